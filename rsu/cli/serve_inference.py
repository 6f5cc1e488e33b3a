"""``rsu serve-inference CONFIG``: the edge inference server boxes offload hard frames to (``tiered.server``)."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from pathlib import Path

import click


@click.command("serve-inference")
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--bind", default=None, metavar="ENDPOINT", help="Override tiered.server.bind (e.g. tcp://0.0.0.0:5570).")
@click.option("--for", "for_seconds", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Stop after this many seconds (default: until Ctrl-C / SIGTERM).")
def command(config: Path, bind: str | None, for_seconds: float | None) -> None:
    """Serve the larger detector of CONFIG's ``tiered.server`` section over ZeroMQ (ROUTER); print JSON stats
    on exit. Boxes reach it through their ``tiered.endpoint``.

    A bind beyond loopback needs ``tiered.server.curve`` (keys from ``rsu keys generate``): without it the
    server refuses to start (exit 2), as it does for any other configuration problem."""
    from pydantic import ValidationError

    from rsu.cli.common import load_config_or_exit
    from rsu.config.tiered import InferenceServerConfig, TieredConfig
    from rsu.tiered.server import InferenceServer

    cfg = load_config_or_exit(config, "rsu serve-inference")
    server_cfg = (cfg.tiered or TieredConfig()).server
    if bind is not None:  # validated like the config's own value
        try:
            server_cfg = InferenceServerConfig.model_validate({**server_cfg.model_dump(), "bind": bind})
        except ValidationError as exc:
            reasons = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
            click.echo(f"rsu serve-inference: --bind {bind}: {reasons}", err=True)
            sys.exit(2)
    try:
        server = InferenceServer.from_config(server_cfg, protection=cfg.models.protection)
    except Exception as exc:  # noqa: BLE001 - model or bind problem: one clear line
        click.echo(f"rsu serve-inference: cannot start: {exc}", err=True)
        sys.exit(1)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    end = None if for_seconds is None else time.monotonic() + for_seconds
    click.echo(f"rsu serve-inference: {server_cfg.detector.model} on {server.endpoint}", err=True)
    try:
        server.serve(lambda: stop.is_set() or (end is not None and time.monotonic() >= end))
    finally:
        stats = server.stats()
        server.close()
    click.echo(json.dumps(stats, separators=(",", ":")))
