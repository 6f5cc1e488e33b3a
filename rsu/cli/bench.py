"""``rsu bench TARGET [--json]``: one benchmark, printed as one JSON object with its same-run baseline."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import click

TARGETS = ("detector", "lstm", "fusion", "pipeline", "flink", "v2x", "zmq", "tiered", "overload", "kafka-flink")


@click.command("bench")
@click.argument("target", type=click.Choice(TARGETS))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (the default output is the same JSON, indented).")
@click.option("--quick", is_flag=True, help="Fewer repetitions (for smoke tests); figures are noisier.")
@click.option("--streams", type=click.IntRange(1, 64), default=None,
              help="detector: N camera streams, batched, against the ultralytics predictor (rsu.bench.detector_streams).")
@click.option("--model", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="detector --streams: an ultralytics ONNX with a dynamic batch (default: the distilled student yolov5s-vtest).")
@click.option("--stills", is_flag=True,
              help="detector --streams: every other camera shows portrait stills (two input shapes per round).")
def command(target: str, as_json: bool, quick: bool, streams: int | None, model: Path | None, stills: bool) -> None:
    """Measure TARGET against a baseline measured in the same run; print JSON."""
    if (streams is not None or model is not None or stills) and target != "detector":
        raise click.UsageError("--streams, --model and --stills apply to the detector benchmark only")
    if stills and streams is None:
        raise click.UsageError("--stills needs --streams")
    if model is not None and streams is None:
        raise click.UsageError("--model needs --streams")
    if streams is not None:
        from rsu.bench import detector_streams

        try:
            result = detector_streams.run(quick=quick, streams=streams, model=model, stills=stills)
        except ModuleNotFoundError as exc:
            raise click.ClickException(f"benchmark 'detector --streams' needs a missing package: {exc.name}") from None
        except detector_streams.USER_ERRORS as exc:
            raise click.UsageError(str(exc)) from None
        click.echo(json.dumps(result, separators=(",", ":")) if as_json else json.dumps(result, indent=2))
        return
    try:
        module = importlib.import_module(f"rsu.bench.{target.replace('-', '_')}")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("rsu.bench"):
            raise click.ClickException(f"benchmark {target!r} is not available in this build") from None
        raise click.ClickException(f"benchmark {target!r} needs a missing package: {exc.name}") from None
    result = module.run(quick=quick)
    click.echo(json.dumps(result, separators=(",", ":")) if as_json else json.dumps(result, indent=2))
