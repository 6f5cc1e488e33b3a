"""``rsu plugins list [--json] [--config FILE]``: installed plugins, their versions, hooks and status."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click


@click.group("plugins")
def command() -> None:
    """Inspect the installed plugins (entry point group ``rsu.plugins``)."""


def _rows(config: Path | None) -> list[dict[str, Any]]:
    from rsu.plugins.manager import create_plugin_manager

    enabled: list[str] | None = None
    if config is not None:
        from rsu.cli.common import load_config_or_exit

        enabled = list(load_config_or_exit(config).plugins.enabled)
    # load every installed plugin (not only the enabled ones) so that each row shows its hooks
    loaded = create_plugin_manager(None)
    rows = []
    for info in loaded.plugins.values():
        row = info.as_dict()
        row["enabled"] = None if enabled is None else info.name in enabled
        if row["enabled"] is False and info.status == "loaded":
            row["status"] = "blocked"
        rows.append(row)
    for name in enabled or ():
        if name not in loaded.plugins:
            rows.append({"name": name, "version": None, "hooks": [], "enabled": True, "status": "missing",
                         "origin": "config", "target": "", "error": "enabled in the config but not installed"})
    return sorted(rows, key=lambda r: r["name"])


@command.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array of objects on stdout.")
@click.option("--config", type=click.Path(path_type=Path), help="Show which plugins this config enables.")
def list_command(as_json: bool, config: Path | None) -> None:
    """List installed plugins: name, version, hooks, enabled, status.

    Status is ``loaded``, ``blocked`` (installed, not enabled by --config), ``failed`` (its import or
    registration raised) or ``missing`` (enabled by --config, not installed).
    """
    rows = _rows(config)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no plugins installed (entry point group rsu.plugins)")
        return
    flag = {None: "-", True: "yes", False: "no"}
    width = max(len(r["name"]) for r in rows)
    click.echo(f"{'NAME':<{width}}  {'VERSION':<9} {'ENABLED':<7} {'STATUS':<8} HOOKS")
    for r in rows:
        click.echo(f"{r['name']:<{width}}  {r['version'] or '?':<9} {flag[r['enabled']]:<7} {r['status']:<8} "
                   + ", ".join(h.removeprefix("rsu_") for h in r["hooks"]))
        if r["error"] and r["status"] in ("failed", "missing"):
            click.echo(f"{'':<{width}}  error: {r['error']}")
