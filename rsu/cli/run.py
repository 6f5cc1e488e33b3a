"""``rsu run CONFIG``: run the box until stopped (Ctrl-C, SIGTERM) or ``--for`` seconds pass."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from pathlib import Path

import click


@click.command("run")
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--runner", type=click.Choice(["embedded", "flink"]), default=None,
              help="Override the config's runner (default: embedded).")
@click.option("--flink-address", default=None, metavar="HOST:PORT",
              help="With --runner flink: submit the job to this running cluster's REST endpoint "
                   "(default: a local mini-cluster).")
@click.option("--for", "for_seconds", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Stop after this many seconds (default: run until stopped or the inputs end).")
@click.option("--summary", "summary_path", type=click.Path(path_type=Path), default=None,
              help="Write the JSON run summary to this file on exit.")
def command(config: Path, runner: str | None, flink_address: str | None, for_seconds: float | None,
            summary_path: Path | None) -> None:
    """Run the box described by CONFIG; print a JSON summary on exit."""
    from rsu.app.build import StartupError, build_box
    from rsu.cli.common import load_config_or_exit

    cfg = load_config_or_exit(config, "rsu run")
    if runner is not None:
        cfg = cfg.model_copy(update={"runner": runner})
    if flink_address is not None:
        if ":" not in flink_address or not flink_address.rsplit(":", 1)[1].isdigit():
            click.echo(f"rsu run: --flink-address: expected HOST:PORT, got {flink_address!r}", err=True)
            sys.exit(2)
        flink = cfg.pipeline.flink.model_copy(update={"address": flink_address})
        cfg = cfg.model_copy(update={"pipeline": cfg.pipeline.model_copy(update={"flink": flink})})
    if cfg.runner == "flink":
        import importlib.util

        if importlib.util.find_spec("pyflink") is None:
            click.echo("rsu run: the flink runner needs the flink extra (pip install 'rsu[flink]', in its own "
                       "venv: it pins numpy<2.2; see docs/pipeline.md)", err=True)
            sys.exit(2)
    from rsu.app.preflight import preflight

    # what `rsu check` reports (files, models, plugins, source types, port clashes): exit 2, not retried by
    # systemd; a port another process holds is found when the box binds it (exit 1, retried)
    problems = preflight(cfg, Path.cwd(), ports=False)
    if problems:
        click.echo("rsu run: cannot start:\n  " + "\n  ".join(problems), err=True)
        sys.exit(2)
    stop = threading.Event()

    def _on_signal(signum: int, _frame: object) -> None:
        click.echo(f"rsu run: {signal.Signals(signum).name} received, draining and stopping", err=True)
        stop.set()

    # installed before building: a stop asked for during start-up is honoured as soon as the box runs
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        # relative paths in a config are relative to the working directory; `rsu sources --persist` writes to it
        box = build_box(cfg, base_dir=Path.cwd(), config_path=config.absolute())
    except StartupError as exc:
        click.echo(f"rsu run: {exc}", err=True)
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - unforeseen start-up failure: one line; the traceback with -vv
        logging.getLogger("rsu.cli.run").debug("start-up failed", exc_info=True)
        click.echo(f"rsu run: cannot start: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)
    click.echo(box.banner(), err=True)
    box.run(for_seconds, should_stop=stop.is_set)
    summary = box.summary()
    text = json.dumps(summary, indent=2, default=str)
    if summary_path is not None:
        summary_path.parent.mkdir(parents=True, exist_ok=True)
        summary_path.write_text(text + "\n")
        click.echo(f"rsu run: summary written to {summary_path}", err=True)
    click.echo(text)
