"""``rsu soak CONFIG --minutes N``: run the box and sample memory, threads, fds, queues and latency (a benchmark)."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from pathlib import Path

import click


@click.command("soak")
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--minutes", type=click.FloatRange(min=0, min_open=True), default=30.0, show_default=True,
              help="How long to run the box.")
@click.option("--interval", "interval_s", type=click.FloatRange(min=0.1), default=30.0, show_default=True,
              help="Seconds between samples.")
@click.option("--warmup", "warmup_s", type=click.FloatRange(min=0), default=300.0, show_default=True,
              help="Seconds at the start left out of the growth figures (models, buffers, caches filling).")
@click.option("--samples", "samples_path", type=click.Path(path_type=Path), default=None,
              help="Also append each sample to this JSON-lines file as it is taken.")
def command(config: Path, minutes: float, interval_s: float, warmup_s: float, samples_path: Path | None) -> None:
    """Run the box of CONFIG for --minutes (in this process, as `rsu run` does), sampling every --interval
    seconds; print one JSON summary: per measure (rss_mb, threads, fds, queue_depth, latency_p99_ms) its
    first / last / min / max after the warm-up and growth_per_h, plus every sample under "timeline"."""
    from rsu.app.build import StartupError, build_box
    from rsu.app.preflight import preflight
    from rsu.bench.soak import soak
    from rsu.cli.common import load_config_or_exit

    cfg = load_config_or_exit(config, "rsu soak")
    problems = preflight(cfg, Path.cwd(), ports=False)
    if problems:
        click.echo("rsu soak: cannot start:\n  " + "\n  ".join(problems), err=True)
        sys.exit(2)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        built = build_box(cfg, base_dir=Path.cwd())
    except StartupError as exc:
        click.echo(f"rsu soak: {exc}", err=True)
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - one line; the traceback with -vv
        logging.getLogger("rsu.cli.soak").debug("start-up failed", exc_info=True)
        click.echo(f"rsu soak: cannot start: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)
    click.echo(built.banner(), err=True)
    sink = None if samples_path is None else open(samples_path, "a", encoding="utf-8")  # noqa: SIM115

    def on_sample(sample: dict) -> None:
        if sink is not None:
            sink.write(json.dumps(sample, default=str) + "\n")
            sink.flush()

    try:
        result = soak(built.box, seconds=minutes * 60.0, interval_s=interval_s, warmup_s=warmup_s,
                      should_stop=stop.is_set, on_sample=on_sample)
    finally:
        if sink is not None:
            sink.close()
    click.echo(json.dumps({"config": str(config), "minutes": minutes, **result}, default=str))
