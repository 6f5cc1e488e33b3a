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
EVAL_COMMANDS: dict[str, str] = {"detector": "rsu.cli.eval:detector_command"}
"""``rsu eval NAME ...`` evaluations with options of their own -> ``module:click command``; others register here."""


def _scenario_eval(name: str, table: dict[str, str] = SCENARIO_EVALS) -> Any:
    import importlib

    module, func = table[name].split(":")
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


class _EvalCommand(click.Command):
    """``rsu eval TARGET [OUTPUT]``, or ``rsu eval NAME ...`` handed to the command of :data:`EVAL_COMMANDS`."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        if args and args[0] in EVAL_COMMANDS:
            sub = _scenario_eval(args[0], EVAL_COMMANDS)
            return sub.make_context(f"{info_name} {args[0]}", args[1:], parent=parent, **extra)
        return super().make_context(info_name, args, parent=parent, **extra)


@click.command("eval", cls=_EvalCommand)
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
    simulate, run fused / camera-only / radar-only, and score. `rsu eval detector --help`: a detector
    against teacher labels (mAP)."""
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


class _UserError(click.ClickException):
    exit_code = 2


@click.command("detector")
@click.option("--model", "model", required=True,
              help="FP32 student (reported as fp32): an .onnx/.tflite file or model name; or a `rsu model distill` "
                   "output folder or its record.json, which gives both the FP32 and the INT8 model.")
@click.option("--int8", "int8", default=None, help="INT8 student (reported as int8).")
@click.option("--truth", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Teacher label file (labels.json, rsu-teacher-labels/1); default: the record's.")
@click.option("--split", default="held_out", show_default=True, help="Frames of this split of the labels.")
@click.option("--teacher", default="nanodet-m", show_default=True,
              help="Teacher for the ceiling (on mirrored frames) and the speed baseline.")
@click.option("--no-ceiling", is_flag=True, help="Skip the teacher: no ceiling_map50, no teacher_ms_per_frame.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Intra-op threads of every model.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def detector_command(model: str, int8: str | None, truth: Path | None, split: str, teacher: str, no_ceiling: bool,
                     threads: int | None, as_json: bool) -> None:
    """mAP50 and mAP50-95 of a student detector (FP32, INT8) against teacher labels of held-out frames,
    the teacher's agreement with itself on mirrored frames (ceiling), and ms per frame of each, interleaved."""
    from rsu.core.errors import ModelError
    from rsu.eval.detector import TruthError, evaluate_detector, models_from_record

    def progress(line: str) -> None:
        click.echo(f"eval detector: {line}", err=True)

    try:
        path = Path(model).expanduser()
        models: dict[str, str | Path] = {"fp32": model}
        if path.is_dir() or path.suffix.lower() == ".json":
            found, record_truth = models_from_record(path)
            models, truth = dict(found), truth or record_truth
        if int8 is not None:
            models["int8"] = int8
        if truth is None:
            raise _UserError("--truth: give the teacher label file (labels.json)")
        result = evaluate_detector(truth, models, split=split, teacher=teacher, ceiling=not no_ceiling,
                                   threads=threads, progress=progress)
    except (TruthError, ModelError, ModuleNotFoundError) as exc:
        raise _UserError(str(exc)) from None
    if as_json:
        click.echo(json.dumps(result, separators=(",", ":")))
        return
    click.echo(f"{result['truth']} ({result['split']}): {result['frames']} frames, {result['boxes']} boxes, "
               f"classes {', '.join(result['classes'])}")
    for name in [*models, "ceiling"]:
        if isinstance(result.get(name), dict):
            m = result[name]
            ms = m.get("ms_per_frame", result["teacher_ms_per_frame"])
            click.echo(f"{name:>8}: mAP50 {m['map50']}  mAP50-95 {m['map50_95']}  {ms} ms/frame  ({m['model']})")
    ratios = ", ".join(f"{k} {v}" for k, v in result["ratios"].items() if v is not None)
    if ratios:
        click.echo(f"  ratios: {ratios}")
