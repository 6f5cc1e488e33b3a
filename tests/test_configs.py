"""Every site config shipped in configs/ passes `rsu check` (the config only: assets and recordings they
name are fetched / simulated separately)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from rsu.cli import main

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


def test_configs_folder_has_the_site_examples() -> None:
    assert {"furnace.yaml", "air-station.yaml"} <= {p.name for p in CONFIGS}


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_rsu_check_accepts(path: Path) -> None:
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith(": ok")
