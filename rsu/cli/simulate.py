"""``rsu simulate SCENARIO --out DIR [--seconds N] [--seed N]``: write a recording with ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("simulate")
@click.argument("scenario")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the recording to (created).")
@click.option("--seconds", type=float, default=None, help="Length of the recording (scenario default if absent).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed: same seed, same recording.")
@click.option("--devices", type=click.IntRange(min=1), default=None,
              help="Scenarios with devices (furnace): how many (scenario default if absent).")
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Scenarios with sampled sensors (furnace): samples per second (scenario default if absent).")
@click.option("--hazards", "hazards", is_flag=False, flag_value="all", default=None, metavar="[all|LIST]",
              help="intersection: add scripted hazards (all, or a comma-separated list of stopped-vehicle, "
                   "jaywalker, wrong-way); their ground truth goes to hazards.jsonl.")
def command(scenario: str, out: Path, seconds: float | None, seed: int, devices: int | None,
            rate: float | None, hazards: str | None) -> None:
    """Simulate SCENARIO (intersection, furnace, ...) into --out; print a JSON summary."""
    from rsu.sim import DEFAULT_SECONDS, SCENARIOS, get_simulator

    if scenario not in SCENARIOS:
        raise click.BadParameter(f"unknown scenario {scenario!r}; known: {', '.join(sorted(SCENARIOS))}",
                                 param_hint="SCENARIO")
    if seconds is not None and seconds <= 0:
        raise click.BadParameter("must be > 0", param_hint="--seconds")
    simulate = get_simulator(scenario)
    extra = {k: v for k, v in (("devices", devices), ("rate", rate)) if v is not None}
    if hazards is not None:
        from rsu.sim.intersection.hazards import HAZARDS

        names = HAZARDS if hazards == "all" else tuple(n.strip() for n in hazards.split(",") if n.strip())
        unknown = [n for n in names if n not in HAZARDS]
        if unknown:
            raise click.BadParameter(f"unknown hazard {', '.join(map(repr, unknown))}; known: {', '.join(HAZARDS)}",
                                     param_hint="--hazards")
        extra["hazards"] = names
    try:
        summary = simulate(out, seconds if seconds is not None else DEFAULT_SECONDS.get(scenario, 60.0), seed, **extra)
    except TypeError as exc:
        if not extra:
            raise
        raise click.UsageError(f"scenario {scenario!r} does not take {', '.join('--' + k for k in extra)}: {exc}") from None
    click.echo(json.dumps(summary, default=str))
