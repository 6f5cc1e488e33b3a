"""`rsu plugin new`: each template's distribution installs, is discovered, and its own tests pass."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from rsu.cli import main
from rsu.scaffold import TEMPLATES, plugin_names

HOOKS = {
    "objects": ["rsu_config_schema", "rsu_on_objects", "rsu_on_start", "rsu_on_stop"],
    "readings": ["rsu_config_schema", "rsu_on_reading", "rsu_on_start", "rsu_on_stop"],
}


def _run(*args: str, cwd: Path | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(params=sorted(TEMPLATES))
def scaffolded(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Path, str]]:
    """A freshly scaffolded plugin of each template, pip-installed (editable) into this interpreter;
    uninstalled afterwards."""
    template = request.param
    name = f"probe_{uuid.uuid4().hex[:8]}"
    result = CliRunner().invoke(main, ["plugin", "new", name.replace("_", "-"), "--dir", str(tmp_path),
                                       "--template", template])
    assert result.exit_code == 0, result.output
    project = tmp_path / name
    assert f"created {project} (template {template})" in result.output
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index", "-e"]
    installed = _run(*pip, str(project))
    assert installed.returncode == 0, installed.stderr
    try:
        yield name, project, template
    finally:
        _run(sys.executable, "-m", "pip", "uninstall", "-q", "-y", plugin_names(name).dist)


def test_scaffolded_plugin_installs_is_discovered_and_its_test_passes(scaffolded: tuple[str, Path, str]) -> None:
    name, project, template = scaffolded
    names = plugin_names(name)
    assert sorted(p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()) == [
        "README.md", "pyproject.toml", f"{names.package}/__init__.py", f"{names.package}/plugin.py",
        "tests/test_plugin.py",
    ]
    listed = _run(sys.executable, "-m", "rsu", "plugins", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    row = next(r for r in json.loads(listed.stdout) if r["name"] == name)
    assert (row["version"], row["status"], row["origin"]) == ("0.1.0", "loaded", "entry point")
    assert row["hooks"] == HOOKS[template]
    assert row["target"] == f"{names.package}.plugin:{names.class_name}"

    tests = _run(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=project)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "3 passed" in tests.stdout and "warning" not in tests.stdout.lower()


def test_default_template_is_the_zone_counter_and_it_publishes_its_own_product(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["plugin", "new", "zones", "--dir", str(tmp_path)])
    assert result.exit_code == 0 and "(template objects)" in result.output
    plugin = (tmp_path / "zones" / "rsu_zones" / "plugin.py").read_text(encoding="utf-8")
    assert 'PRODUCT = "zone_count"' in plugin and "def rsu_on_objects" in plugin
    readme = (tmp_path / "zones" / "README.md").read_text(encoding="utf-8")
    assert "rsu/<site>/zone_count/<zone>" in readme and "$" not in readme


def test_unknown_template_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["plugin", "new", "demo", "--dir", str(tmp_path), "--template", "video"])
    assert result.exit_code == 2 and "objects" in result.output and "readings" in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("raw, expected", [
    ("speed-watch", ("speed_watch", "rsu-speed-watch", "rsu_speed_watch", "SpeedWatch")),
    ("rsu_furnace_fault", ("furnace_fault", "rsu-furnace-fault", "rsu_furnace_fault", "FurnaceFault")),
    ("Air2", ("air2", "rsu-air2", "rsu_air2", "Air2")),
])
def test_names_are_derived_consistently(raw: str, expected: tuple[str, str, str, str]) -> None:
    names = plugin_names(raw)
    assert (names.name, names.dist, names.package, names.class_name) == expected


@pytest.mark.parametrize("raw", ["2fast", "bad name", "a__b", "x-", "enabled", "queue_size", "rsu", "ÄÖ"])
def test_bad_or_reserved_names_are_refused(raw: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["plugin", "new", raw, "--dir", str(tmp_path)])
    assert result.exit_code == 2 and "rsu plugin new: plugin name" in result.output
    assert list(tmp_path.iterdir()) == []


def test_existing_project_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "keep.txt").write_text("mine")
    result = CliRunner().invoke(main, ["plugin", "new", "demo", "--dir", str(tmp_path)])
    assert result.exit_code == 2 and "already exists and is not empty" in result.output
    assert [p.name for p in (tmp_path / "demo").iterdir()] == ["keep.txt"]
