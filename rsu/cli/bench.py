"""``rsu bench TARGET [--json]``: one benchmark, printed as one JSON object with its same-run baseline."""

from __future__ import annotations

import importlib
import json

import click

TARGETS = ("detector", "lstm", "fusion", "pipeline", "flink", "v2x", "zmq", "tiered", "overload", "kafka-flink")


@click.command("bench")
@click.argument("target", type=click.Choice(TARGETS))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (the default output is the same JSON, indented).")
@click.option("--quick", is_flag=True, help="Fewer repetitions (for smoke tests); figures are noisier.")
def command(target: str, as_json: bool, quick: bool) -> None:
    """Measure TARGET against a baseline measured in the same run; print JSON."""
    try:
        module = importlib.import_module(f"rsu.bench.{target.replace('-', '_')}")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("rsu.bench"):
            raise click.ClickException(f"benchmark {target!r} is not available in this build") from None
        raise click.ClickException(f"benchmark {target!r} needs a missing package: {exc.name}") from None
    result = module.run(quick=quick)
    click.echo(json.dumps(result, separators=(",", ":")) if as_json else json.dumps(result, indent=2))
