"""Discovery through real entry points (a distribution on sys.path), registration records, `rsu plugins list`."""

from __future__ import annotations

import json
import logging
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from rsu_sdk import EncoderSpec, hookimpl

from rsu.cli import main
from rsu.plugins import PluginLoadError, collect_encoders, collect_models, collect_sources, create_plugin_manager


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A distribution ``rsu-demo`` 1.2.3 with two entry points: one good plugin, one that fails to import."""
    uid = uuid.uuid4().hex[:8]
    ok_mod, broken_mod = f"demo_ok_{uid}", f"demo_broken_{uid}"
    (tmp_path / f"{ok_mod}.py").write_text(textwrap.dedent("""
        from rsu_sdk import EncoderSpec, hookimpl

        class Plugin:
            @hookimpl
            def rsu_on_objects(self, objects):
                pass

            @hookimpl
            def rsu_register_encoders(self):
                return [EncoderSpec(name="demo-json", decode=lambda body: {"n": len(body)})]
    """))
    (tmp_path / f"{broken_mod}.py").write_text("raise RuntimeError('needs a GPU driver')\n")
    dist = tmp_path / f"rsu_demo_{uid}-1.2.3.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: rsu-demo-{uid}\nVersion: 1.2.3\n")
    (dist / "entry_points.txt").write_text(
        f"[rsu.plugins]\ndemo_ok_{uid} = {ok_mod}:Plugin\ndemo_broken_{uid} = {broken_mod}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return {"ok": f"demo_ok_{uid}", "broken": f"demo_broken_{uid}", "broken_mod": broken_mod}


def test_entry_point_loaded_with_version_and_disabled_ones_never_imported(installed, caplog) -> None:
    ok, broken = installed["ok"], installed["broken"]
    with caplog.at_level(logging.INFO, logger="rsu.plugins"):
        loaded = create_plugin_manager([ok])
    info = loaded.plugins[ok]
    assert (info.status, info.version, info.origin) == ("loaded", "1.2.3", "entry point")
    assert info.hooks == ("rsu_on_objects", "rsu_register_encoders")
    assert f"plugin {ok}-1.2.3 loaded" in caplog.text
    assert loaded.plugins[broken].status == "blocked" and loaded.pm.is_blocked(broken)
    assert installed["broken_mod"] not in sys.modules
    loaded.require_enabled()  # nothing enabled is broken


def test_enabled_plugin_that_fails_to_import_stops_start_up_without_bricking_the_others(installed) -> None:
    ok, broken = installed["ok"], installed["broken"]
    loaded = create_plugin_manager([ok, broken])
    assert loaded.plugins[ok].status == "loaded"
    assert loaded.plugins[broken].status == "failed"
    with pytest.raises(PluginLoadError, match=f"plugin '{broken}' failed to load: RuntimeError: needs a GPU driver"):
        loaded.require_enabled()


def test_plugins_list_json_and_table(installed, tmp_path: Path) -> None:
    ok, broken = installed["ok"], installed["broken"]
    result = CliRunner().invoke(main, ["plugins", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert rows[ok]["version"] == "1.2.3" and rows[ok]["status"] == "loaded" and rows[ok]["enabled"] is None
    assert rows[ok]["hooks"] == ["rsu_on_objects", "rsu_register_encoders"]
    assert rows[broken]["status"] == "failed" and "needs a GPU driver" in rows[broken]["error"]

    cfg = tmp_path / "box.yaml"
    cfg.write_text(f"site: {{name: s, lat: 1, lon: 2}}\nplugins:\n  enabled: [{ok}, ghost]\n")
    result = CliRunner().invoke(main, ["plugins", "list", "--config", str(cfg), "--json"])
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert (rows[ok]["enabled"], rows[ok]["status"]) == (True, "loaded")
    assert (rows[broken]["enabled"], rows[broken]["status"]) == (False, "failed")
    assert (rows["ghost"]["enabled"], rows["ghost"]["status"]) == (True, "missing")

    table = CliRunner().invoke(main, ["plugins", "list", "--config", str(cfg)]).output
    line = next(x for x in table.splitlines() if x.startswith(ok))
    assert line.split()[1:4] == ["1.2.3", "yes", "loaded"] and "on_objects, register_encoders" in line


def test_registration_records_are_collected_per_plugin_in_isolation(installed) -> None:
    class Broken:
        @hookimpl
        def rsu_register_encoders(self):
            raise ValueError("asn.1 file missing")

        @hookimpl
        def rsu_register_sources(self):
            return ["not a SourceSpec"]

    class Duplicate:
        @hookimpl
        def rsu_register_encoders(self):
            return EncoderSpec(name="demo-json", decode=lambda body: {})

    loaded = create_plugin_manager([installed["ok"], "broken", "dup"],
                                   extra_plugins=[("broken", Broken()), ("dup", Duplicate())])
    problems: list[str] = []
    encoders = collect_encoders(loaded.pm, problems)
    assert list(encoders) == ["demo-json"]
    assert "plugin broken: rsu_register_encoders raised ValueError: asn.1 file missing" in problems
    # pluggy calls the last registered (the entry point, loaded after the extras) first: it wins
    assert encoders["demo-json"].decode(b"abc") == {"n": 3}
    assert f"plugin dup: rsu_register_encoders: 'demo-json' is already registered by plugin {installed['ok']}" \
        in problems
    assert {k for k, s in collect_sources(loaded.pm, problems).items() if s.open is not None} == set()  # built-ins only
    assert "plugin broken: rsu_register_sources[0]: expected SourceSpec, got str" in problems
    assert collect_models(loaded.pm) == {}


def test_an_extra_plugin_shadows_an_installed_one_of_the_same_name(installed) -> None:
    class Replacement:
        @hookimpl
        def rsu_on_health(self, event):
            pass

    loaded = create_plugin_manager([installed["ok"]], extra_plugins=[(installed["ok"], Replacement)])
    info = loaded.plugins[installed["ok"]]
    assert (info.origin, info.hooks) == ("extra", ("rsu_on_health",))
    assert isinstance(loaded.pm.get_plugin(installed["ok"]), Replacement)  # a class is instantiated
