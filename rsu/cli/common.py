"""Helpers shared by the commands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from rsu.config import ConfigError, RsuConfig


def report_config_error(exc: ConfigError, prog: str = "") -> None:
    """Print ``<file>: invalid configuration`` and one ``path: reason`` line per problem, on stderr."""
    click.echo(f"{prog + ': ' if prog else ''}{exc.source}: invalid configuration", err=True)
    for problem in exc.problems:
        click.echo(f"  {problem}", err=True)


def load_config_or_exit(path: Path, prog: str = "") -> RsuConfig:
    """Load and validate a config; on a problem, report it and exit 2."""
    from rsu.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        report_config_error(exc, prog)
        sys.exit(2)
