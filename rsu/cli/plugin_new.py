"""``rsu plugin new NAME [--dir DIR] [--template objects|readings]``: scaffold a third-party plugin."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from rsu.scaffold import TEMPLATES


@click.group("plugin")
def command() -> None:
    """Write plugins for the box."""


@command.command("new")
@click.argument("name")
@click.option("--dir", "parent", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Folder to create the project folder <name>/ in.")
@click.option("--template", type=click.Choice(list(TEMPLATES)), default="objects", show_default=True,
              help="objects: " + TEMPLATES["objects"] + "; readings: " + TEMPLATES["readings"] + ".")
def new_command(name: str, parent: Path, template: str) -> None:
    """Create NAME/: pyproject with the rsu.plugins entry point, one plugin class, its passing tests.

    Then: `pip install -e NAME`, `rsu plugins list`, `pytest NAME`.
    """
    from rsu.scaffold import render_plugin

    try:
        dest = render_plugin(name, parent, template)
    except (ValueError, FileExistsError) as exc:
        click.echo(f"rsu plugin new: {exc}", err=True)
        sys.exit(2)
    click.echo(f"created {dest} (template {template})")
    click.echo(f"next: pip install -e '{dest}[test]' && rsu plugins list && pytest {dest}")
