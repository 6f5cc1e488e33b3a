"""``rsu kafka fetch|start|stop|status``: a single-node KRaft broker on loopback for the demo and the tests."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

_STATE = click.option("--state", "state", type=click.Path(file_okay=False, path_type=Path), default=Path("var/kafka"),
                      show_default=True, help="the broker's state folder (config, data, log, pid)")


@click.group("kafka")
def command() -> None:
    """A Kafka broker + KRaft controller on 127.0.0.1, run from pinned jars fetched once at set-up."""


@command.command("fetch")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="assets folder (default: $RSU_ASSETS, <checkout>/assets, or ~/.cache/rsu/assets)")
@click.option("--update-checksums", is_flag=True,
              help="after a deliberate version change in rsu/kafka/pom.xml: rewrite rsu/kafka/jars.sha256")
def fetch(directory: Path | None, update_checksums: bool) -> None:
    """Fetch the broker's jars from Maven Central (needs `mvn`) and check each against the pinned sha256."""
    from rsu.kafka.jars import JarsError
    from rsu.kafka.jars import fetch as fetch_jars

    t0 = time.monotonic()
    try:
        libs = fetch_jars(directory, lambda line: click.echo(f"  {line}"), update_checksums=update_checksums)
    except JarsError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"kafka jars: {libs} ({time.monotonic() - t0:.1f} s)")


@command.command("start")
@_STATE
@click.option("--port", type=int, default=9092, show_default=True, help="client listener on 127.0.0.1")
@click.option("--controller-port", type=int, default=9093, show_default=True, help="KRaft controller listener")
@click.option("--partitions", type=int, default=4, show_default=True, help="partitions of auto-created topics")
@click.option("--heap", default="512m", show_default=True, help="the JVM's maximum heap")
@click.option("--timeout", type=float, default=120.0, show_default=True, help="seconds to wait until ready")
def start(state: Path, port: int, controller_port: int, partitions: int, heap: str, timeout: float) -> None:
    """Format the storage (first time), start the broker detached, and wait until it serves clients."""
    from rsu.kafka.broker import BrokerError, KafkaBroker

    broker = KafkaBroker(state, port=port, controller_port=controller_port, partitions=partitions, heap=heap)
    if broker.pid() is not None:
        click.echo(f"kafka: already running (pid {broker.pid()}) on {broker.bootstrap}")
        return
    t0 = time.monotonic()
    try:
        broker.start(timeout)
    except BrokerError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"kafka: ready on {broker.bootstrap} (pid {broker.pid()}, {time.monotonic() - t0:.1f} s, "
               f"log {broker.log_file})")


@command.command("stop")
@_STATE
@click.option("--timeout", type=float, default=60.0, show_default=True, help="seconds before SIGKILL")
def stop(state: Path, timeout: float) -> None:
    """Stop the broker cleanly (SIGTERM; SIGKILL after the timeout)."""
    from rsu.kafka.broker import KafkaBroker

    if KafkaBroker.from_state(state).stop(timeout):
        click.echo("kafka: stopped")
    else:
        click.echo("kafka: not running")


@command.command("status")
@_STATE
@click.option("--json", "as_json", is_flag=True)
def status(state: Path, as_json: bool) -> None:
    """Whether the broker runs and serves; exit 1 when it does not."""
    from rsu.kafka.broker import KafkaBroker
    from rsu.kafka.jars import verify

    broker = KafkaBroker.from_state(state)
    info = broker.status()
    problems = verify(broker.libs)
    info["jars"] = ("verified" if not problems else "not fetched: run `rsu kafka fetch`" if not broker.libs.is_dir()
                    else f"{len(problems)} problems (e.g. {problems[0]}): run `rsu kafka fetch`")
    if as_json:
        click.echo(json.dumps(info, indent=2))
    else:
        state_txt = f"running (pid {info['pid']}) on {info['bootstrap']}" if info["running"] else "not running"
        click.echo(f"kafka {info['version']}: {state_txt}; jars {info['jars']}; state {info['state']}")
    if not (info["running"] and info["serving"]):
        raise SystemExit(1)
