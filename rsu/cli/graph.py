"""``rsu graph CONFIG [--format text|mermaid]``: the dataflow the box CONFIG describes would run, from the
registered stage specs; nothing is started (plugins are loaded to read what they register)."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("graph")
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "mermaid"]), default="text", show_default=True,
              help="Plain lines, or a Mermaid flowchart.")
def command(config: Path, fmt: str) -> None:
    """Print the stages (with thread model and queue policy) and the edges of the box CONFIG would build;
    exit 2 naming each problem (a product nobody consumes, a cycle, a stage without inputs). Whether the
    detector batches cameras is read from the config alone (the model's batch assumed dynamic)."""
    from rsu.app.dataflow import DataflowError, plan
    from rsu.app.dataflow_render import mermaid, text
    from rsu.cli.common import load_config_or_exit
    from rsu.plugins.manager import create_plugin_manager
    from rsu.plugins.registry import collect_models, collect_sources, collect_stages

    cfg = load_config_or_exit(config, "rsu graph")
    pm = create_plugin_manager(cfg.plugins.enabled).pm
    try:
        flow = plan(cfg, collect_stages(pm), collect_sources(pm), models=list(collect_models(pm)))
        flow.check()
    except DataflowError as exc:
        click.echo(f"rsu graph: {config}: {exc}", err=True)
        sys.exit(2)
    click.echo(mermaid(flow) if fmt == "mermaid" else "\n".join(text(flow)))
