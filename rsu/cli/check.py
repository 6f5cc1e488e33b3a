"""``rsu check CONFIG``: validate a config, its plugins and models."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("check")
@click.argument("config", type=click.Path(path_type=Path))
def command(config: Path) -> None:
    """Validate CONFIG; exit 0 when valid, exit 2 naming each bad key path."""
    from rsu.cli.common import report_config_error
    from rsu.config import ConfigError, load_config
    from rsu.plugins.settings import check_plugins

    try:
        cfg = load_config(config)
        plugin_problems = check_plugins(cfg.plugins)
        if plugin_problems:
            raise ConfigError(str(config), plugin_problems)
    except ConfigError as exc:
        report_config_error(exc)
        sys.exit(2)
    click.echo(f"{config}: ok")
