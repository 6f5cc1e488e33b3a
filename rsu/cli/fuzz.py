"""``rsu fuzz TARGET --seconds N``: fuzz one decoder or parser (coverage-guided with atheris when installed)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click


@click.command("fuzz")
@click.argument("target", required=False)
@click.option("--seconds", type=click.FloatRange(min=0, min_open=True), default=30.0, show_default=True,
              help="How long to fuzz.")
@click.option("--list", "list_targets", is_flag=True, help="List the targets and exit.")
@click.option("--corpus", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Seed corpus folder (default: tests/fuzz_corpus/TARGET when it exists).")
@click.option("--artifacts", type=click.Path(file_okay=False, path_type=Path), default=Path("var/fuzz"),
              show_default=True, help="Where findings are saved (crash-* files).")
@click.option("--engine", type=click.Choice(["auto", "atheris", "random"]), default="auto", show_default=True,
              help="atheris: coverage-guided (x86-64 Linux wheels); random: mutation of the seeds; auto: atheris "
                   "when installed.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def command(target: str | None, seconds: float, list_targets: bool, corpus: Path | None, artifacts: Path,
            engine: str, as_json: bool) -> None:
    """Fuzz TARGET for N seconds; print the number of inputs tried; exit 1 on a finding.

    The seed corpus is replayed first (every seed must pass); a finding is saved under --artifacts.
    """
    from rsu.fuzz.runner import atheris_available, fuzz, replay_seeds, seeds_of
    from rsu.fuzz.targets import TARGETS

    if list_targets or target is None:
        for t in TARGETS.values():
            click.echo(f"{t.name:14} {t.description}")
        if target is None and not list_targets:
            raise click.UsageError("give a TARGET (see the list above)")
        return
    if target not in TARGETS:
        raise click.BadParameter(f"unknown target {target!r}; known: {', '.join(TARGETS)}", param_hint="TARGET")
    if engine == "atheris" and not atheris_available():
        raise click.UsageError("atheris is not installed (pip install atheris; wheels for x86-64 Linux)")
    t = TARGETS[target]
    corpus = corpus or Path("tests/fuzz_corpus") / target
    seeds = seeds_of(corpus)
    seed_findings = replay_seeds(t, seeds)
    started = time.monotonic()
    result = fuzz(t, seconds, corpus=corpus if corpus.is_dir() else None, artifacts=artifacts / target,
                  engine=engine)
    elapsed = time.monotonic() - started  # less than --seconds when a finding stopped the run
    findings = [f"seed: {tb.strip().splitlines()[-1]}" for tb in seed_findings] + result.findings
    summary = {"target": target, "engine": result.engine, "seconds": round(elapsed, 1), "seeds": len(seeds),
               "inputs": result.inputs, "findings": findings}
    if as_json:
        click.echo(json.dumps(summary))
    else:
        click.echo(f"fuzz {target}: {result.inputs} inputs in {elapsed:.0f} s ({result.engine}), {len(seeds)} seeds, "
                   f"{len(findings)} finding(s)")
        for f in findings:
            click.echo(f"  finding: {f}")
    if findings:
        for tb in seed_findings:
            click.echo(tb, err=True)
        if result.detail:
            click.echo(result.detail, err=True)
        sys.exit(1)
