"""``rsu check CONFIG``: validate a config, its plugins, files, models and ports; exit 2 listing each problem."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click


@click.command("check")
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--no-ports", "no_ports", is_flag=True, default=False,
              help="Do not try the configured ports (e.g. while the box this config describes is running).")
def command(config: Path, no_ports: bool) -> None:
    """Validate CONFIG and everything `rsu run` would need from it; exit 0 when all is well, else exit 2
    naming each problem by its dotted key path. Relative paths are taken from the working directory."""
    from rsu.cli.common import report_config_error
    from rsu.config import ConfigError, load_config
    from rsu.app.preflight import preflight

    try:
        cfg = load_config(config)
        problems = preflight(cfg, Path.cwd(), ports=not no_ports)
    except ConfigError as exc:
        report_config_error(exc)
        sys.exit(2)
    except Exception as exc:  # noqa: BLE001 - whatever the input, one line and exit 2, never a traceback
        logging.getLogger("rsu.cli.check").debug("check failed", exc_info=True)
        click.echo(f"{config}: cannot check: {type(exc).__name__}: {exc}", err=True)
        sys.exit(2)
    if problems:
        click.echo(f"{config}: would not start", err=True)
        for problem in problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(2)
    click.echo(f"{config}: ok")
