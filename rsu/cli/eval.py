"""``rsu eval TRUTH OUTPUT [--json]`` and ``rsu eval SCENARIO [--seconds N] [--seed N] [--json]``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

SCENARIO_EVALS: dict[str, str] = {"intersection": "rsu.eval.intersection:run_scenario",
                                  "furnace": "rsu.eval.furnace:run_scenario"}
"""Scenario name -> ``module:function(seconds, seed, out) -> dict``; other scenarios register here."""
SCENARIO_SECONDS: dict[str, float] = {"furnace": 86_400.0}
"""Default ``--seconds`` per scenario (60 when absent)."""


def _scenario_eval(name: str) -> Any:
    import importlib

    module, func = SCENARIO_EVALS[name].split(":")
    return getattr(importlib.import_module(module), func)


def _print(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result, separators=(",", ":"), default=str))
        return
    for key, value in result.items():
        if isinstance(value, dict):
            shown = {k: v for k, v in value.items() if not isinstance(v, dict)}
            if shown or not value:
                click.echo(f"{key}: " + ", ".join(f"{k}={v}" for k, v in shown.items()))
            else:  # a group of results (hazards: one line per trigger)
                _print({f"{key}.{k}": v for k, v in value.items()}, False)
        else:
            click.echo(f"{key}: {value}")


def _hazard_names(value: str) -> tuple[str, ...]:
    from rsu.sim.intersection.hazards import HAZARDS

    if value == "all":
        return HAZARDS
    if value == "none":
        return ()
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    unknown = [n for n in names if n not in HAZARDS]
    if unknown:
        raise click.BadParameter(f"unknown hazard {', '.join(map(repr, unknown))}; expected all, none or a "
                                 f"comma-separated list of {', '.join(HAZARDS)}", param_hint="--hazards")
    return names


@click.command("eval")
@click.argument("target")
@click.argument("output", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--seconds", type=float, default=None, help="Scenario mode: seconds to simulate.")
@click.option("--seed", type=int, default=0, show_default=True, help="Scenario mode: random seed.")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Scenario mode: keep the recording and the runs' outputs in this folder.")
@click.option("--max-distance", type=float, default=2.0, show_default=True,
              help="Tracking: a track matches a truth object within this many metres.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--details", is_flag=True, help="Scenario mode: keep engine and decoder counters in the JSON.")
@click.option("--hazards", "hazards", is_flag=False, flag_value="all", default=None, metavar="[all|none|LIST]",
              help="intersection: add scripted hazards (all, or a comma-separated list of stopped-vehicle, "
                   "jaywalker, wrong-way; none: no hazard, so every event is false) and score the "
                   "hazard_warning plugin's DENM events (adds 'hazards').")
def command(target: str, output: Path | None, seconds: float | None, seed: int, out: Path | None,
            max_distance: float, as_json: bool, details: bool, hazards: str | None) -> None:
    """Score a run. TARGET OUTPUT: ground truth (a truth.jsonl or a recording folder) against the tracked
    objects of a run (JSONL of rsu.objects/1 records). TARGET alone: a scenario (intersection) to
    simulate, run fused / camera-only / radar-only, and score."""
    if hazards is not None and (output is not None or target != "intersection"):
        raise click.UsageError("--hazards applies to the intersection scenario only")
    if output is not None:
        from rsu.eval.tracking import evaluate, load_output, load_truth

        try:
            truth, zone = load_truth(target)
            result = evaluate(truth, load_output(output), zone, max_distance_m=max_distance)
        except (OSError, ValueError, KeyError) as exc:
            raise click.ClickException(f"cannot evaluate {target} against {output}: {exc}") from None
        _print(result, as_json)
        return
    if target not in SCENARIO_EVALS:
        known = ", ".join(sorted(SCENARIO_EVALS))
        raise click.UsageError(f"{target!r} is not a scenario ({known}); to score a run give TRUTH OUTPUT")
    seconds = seconds if seconds is not None else SCENARIO_SECONDS.get(target, 60.0)
    if hazards is not None:
        from rsu.eval.hazards import run_scenario

        try:
            result = run_scenario(seconds=seconds, seed=seed, out=out, hazards=_hazard_names(hazards))
        except RuntimeError as exc:
            raise click.ClickException(str(exc)) from None
    else:
        result = _scenario_eval(target)(seconds=seconds, seed=seed, out=out)
    if not details:
        result.pop("stats", None)
        for value in result.values():
            if isinstance(value, dict):
                value.pop("stats", None)
    _print(result, as_json)
