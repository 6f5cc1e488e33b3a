"""``rsu tap ENDPOINT``: subscribe to the box's bus and print one JSON line per message."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

log = logging.getLogger(__name__)


@click.command("tap")
@click.argument("endpoint")
@click.option("--topic", "topic", default="", metavar="PREFIX",
              help="Only topics starting with PREFIX, e.g. rsu/site/objects.")
@click.option("--count", type=click.IntRange(min=1), default=None, help="Exit 0 after N messages.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None, metavar="S",
              help="Give up after S seconds; exit 1 if fewer than --count (or no) messages arrived.")
@click.option("--server-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="CURVE: the publisher's public key file (server.key).")
@click.option("--client-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="CURVE: this subscriber's secret key file (client.key_secret), authorised on the box.")
@click.option("--no-plugins", is_flag=True, help="Do not load plugins' decoders (binary bodies print as base64).")
def command(endpoint: str, topic: str, count: int | None, timeout: float | None, server_key: Path | None,
            client_key: Path | None, no_plugins: bool) -> None:
    """Subscribe to ENDPOINT (e.g. tcp://127.0.0.1:5556) and print {"topic", "payload"} per message.

    V2X bodies ([topic, header, body]) are decoded with the plugin encoder named by the header's
    "encoding"; without one the body is printed as base64 with a note.
    """
    from rsu.publish.tap import tap, to_json_line

    if (server_key is None) != (client_key is None):
        raise click.UsageError("CURVE needs both --server-key and --client-key")

    def emit(message: dict[str, Any]) -> None:
        sys.stdout.write(to_json_line(message) + "\n")
        sys.stdout.flush()

    def on_skip(text: str) -> None:
        click.echo(f"rsu tap: {text}", err=True)

    from rsu.plugins.registry import installed_decoders

    decoders = {} if no_plugins else installed_decoders()
    try:
        result = tap(endpoint, emit=emit, topic=topic, count=count, timeout=timeout, decoders=decoders,
                     server_key=server_key, client_key=client_key, on_skip=on_skip)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # e.g. PublishError for an unreadable key file
        raise click.ClickException(str(exc)) from None
    if result.timed_out and (result.received == 0 or (count is not None and result.received < count)):
        what = "no message" if result.received == 0 else f"only {result.received} of {count} messages"
        where = f" with topic prefix {topic!r}" if topic else ""
        hint = "".join(f"; {p}" for p in result.problems)
        raise click.ClickException(f"{what} from {endpoint}{where} within {timeout:g} s{hint}")
