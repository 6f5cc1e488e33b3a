"""``rsu run`` as a service: SIGTERM drains, checkpoints and exits 0; start-up errors are one clear line each
with a non-zero exit and no traceback; JSON logs carry source and plugin fields."""

from __future__ import annotations

import json
import logging
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from rsu.app.testing import wait_for
from rsu.assetfetch.fetch import fetch_all
from rsu.assets.paths import assets_dir
from rsu.logging_setup import JsonFormatter
from web_helpers import get_json

RSU = [sys.executable, "-m", "rsu"]


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rsu.sim import get_simulator

    out = tmp_path_factory.mktemp("svc") / "intersection"
    get_simulator("intersection")(out, 20.0, 0)
    return out


def _replay_config(tmp: Path, recording: Path, **extra: Any) -> Path:
    recorded = yaml.safe_load((recording / "config.yaml").read_text())
    raw = {
        "version": 1,
        "site": {"name": "svc", "lat": 48.1374, "lon": 11.5755},
        "sources": [{"id": "intersection", "type": "replay", "path": str(recording), "speed": 1.0, "loop": True,
                     "rebase_time": True}],
        "fusion": recorded["fusion"],
        "pipeline": {"checkpoint": {"dir": str(tmp / "checkpoints"), "interval_s": 600}},
        "publish": {"zmq": {"endpoint": "tcp://127.0.0.1:*"}},
        "plugins": {"enabled": ["traffic_broadcast"],
                    "traffic_broadcast": {"radio": {"host": "127.0.0.1", "port": 9}}},
        **extra,
    }
    path = tmp / "box.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _run(args: list[str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RSU, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def test_sigterm_drains_checkpoints_and_exits_0(tmp_path: Path, recording: Path) -> None:
    cfg = _replay_config(tmp_path, recording, web={"enabled": True, "port": 0})
    stdout = (tmp_path / "stdout.json").open("w")
    proc = subprocess.Popen([*RSU, "run", str(cfg), "--summary", str(tmp_path / "summary.json")], cwd=tmp_path,
                            stdout=stdout, stderr=subprocess.PIPE, text=True)
    err_lines: list[str] = []
    reader = threading.Thread(target=lambda: err_lines.extend(iter(proc.stderr.readline, "")), daemon=True)
    reader.start()
    try:
        line = wait_for(lambda: next((ln for ln in err_lines if "dashboard on " in ln), None), 60, "the banner",
                        interval=0.2)
        url = re.search(r"dashboard on (http://\S+/)", line).group(1)
        wait_for(lambda: get_json(url + "readyz")[0] == 200, 60, "/readyz 200", interval=0.2)
        wait_for(lambda: get_json(url + "api/state")[1]["metrics"]["tracks_started"] > 0, 60, "tracks", interval=0.2)
        assert get_json(url + "healthz")[0] == 200
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        stdout.close()
    reader.join(5)
    out = (tmp_path / "stdout.json").read_text()
    stderr = "".join(err_lines)
    assert proc.returncode == 0, stderr
    assert "SIGTERM received, draining and stopping" in stderr and "Traceback" not in stderr
    summary = json.loads(out)
    assert summary == json.loads((tmp_path / "summary.json").read_text())
    ops = summary["stage_stats"]["operators"]
    assert ops["checkpoint"]["written"] == 1  # interval 600 s: this is the shutdown checkpoint
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["ckpt-0000000001.pkl"]
    plugin = summary["plugins"]["traffic_broadcast"]
    assert plugin["status"] == "stopped" and plugin["queue_depth"] == 0 and plugin["calls"] > 0  # drained
    assert summary["stages"]["routed"]["ObjectList"] > 0


def _startup_failure(args: list[str], cwd: Path) -> list[str]:
    done = _run(args, cwd)
    assert done.returncode != 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stdout == ""
    return done.stderr.splitlines()


def test_missing_model_is_one_line(tmp_path: Path) -> None:
    video = fetch_all(assets_dir()) / "data" / "vtest.avi"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({
        "version": 1, "site": {"name": "s", "lat": 0, "lon": 0},
        "sources": [{"id": "cam", "type": "camera", "url": str(video)}],
        "models": {"detector": {"model": str(tmp_path / "missing.onnx"), "providers": ["cpu"]}},
        "publish": {"zmq": {"endpoint": "tcp://127.0.0.1:*"}}}))
    lines = _startup_failure(["run", str(cfg)], tmp_path)
    assert lines == ["rsu run: cannot start:",
                     f"  models.detector.model: model file not found: {tmp_path / 'missing.onnx'}"]


def test_missing_camera_file_is_one_line(tmp_path: Path) -> None:
    fetch_all(assets_dir())
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({
        "version": 1, "site": {"name": "s", "lat": 0, "lon": 0},
        "sources": [{"id": "cam-a", "type": "camera", "url": "videos/nope.avi"}],
        "models": {"detector": {"providers": ["cpu"]}},
        "publish": {"zmq": {"endpoint": "tcp://127.0.0.1:*"}}}))
    lines = _startup_failure(["run", str(cfg)], tmp_path)
    assert lines == ["rsu run: cannot start:",
                     f"  sources[0].url: camera file not found: {tmp_path / 'videos' / 'nope.avi'}"]


def test_bad_config_names_each_key_and_exits_2(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("version: 1\nsite: {name: s, lat: 0, lon: 0}\nweb: {port: 70000, colour: red}\n")
    done = _run(["run", str(cfg)], tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [f"rsu run: {cfg}: invalid configuration",
                                        "  web.port: must be <= 65535", "  web.colour: unknown key"]
    assert _startup_failure(["run", str(tmp_path / "absent.yaml")], tmp_path)[1] == \
        f"  {tmp_path / 'absent.yaml'}: cannot read file: No such file or directory"


def test_taken_web_port_is_one_line(tmp_path: Path, recording: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cfg = _replay_config(tmp_path, recording, web={"enabled": True, "port": port})
        lines = _startup_failure(["run", str(cfg)], tmp_path)
    assert lines == ["rsu run: cannot start:", f"  web: cannot listen on 127.0.0.1:{port}: Address already in use"]


def test_json_logs_from_a_run(tmp_path: Path, recording: Path) -> None:
    cfg = _replay_config(tmp_path, recording)
    done = _run(["-v", "--log-format", "json", "run", str(cfg), "--for", "1"], tmp_path)
    assert done.returncode == 0, done.stderr
    records = [json.loads(ln) for ln in done.stderr.splitlines() if ln.startswith("{")]
    assert records, done.stderr
    for rec in records:
        assert {"ts", "level", "logger", "message", "source", "plugin", "thread"} <= set(rec)
    assert any(r["level"] == "INFO" for r in records)
    assert any(r["plugin"] == "traffic_broadcast" for r in records)  # the plugin's own logger


def _record(logger: str, thread: str, **extra: Any) -> dict[str, Any]:
    rec = logging.LogRecord(logger, logging.WARNING, __file__, 1, "hello %s", ("world",), None)
    rec.threadName = thread
    rec.__dict__.update(extra)
    return json.loads(JsonFormatter().format(rec))


def test_json_formatter_fills_source_and_plugin() -> None:
    a = _record("rsu.sources.camera", "source-cam-1")
    assert (a["source"], a["plugin"], a["message"], a["level"]) == ("cam-1", None, "hello world", "WARNING")
    assert _record("rsu.sources.camera", "grab-cam-2")["source"] == "cam-2"
    b = _record("rsu.plugin.dust_control", "rsu-plugin-dust_control")
    assert (b["source"], b["plugin"]) == (None, "dust_control")
    assert _record("rsu.plugins", "rsu-plugin-furnace_fault")["plugin"] == "furnace_fault"
    c = _record("rsu.app.box", "router", source="radar-1", plugin="x", device="furnace-1")
    assert (c["source"], c["plugin"], c["device"]) == ("radar-1", "x", "furnace-1")
    try:
        raise ValueError("boom")
    except ValueError:
        rec = logging.LogRecord("rsu", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    d = json.loads(JsonFormatter().format(rec))
    assert d["exc_type"] == "ValueError" and "boom" in d["exc"]


def test_systemd_unit_stops_with_sigterm_and_restarts_on_failure(repo_root: Path) -> None:
    import configparser

    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(repo_root / "deploy" / "rsu.service")
    svc = unit["Service"]
    assert svc["KillSignal"] == "SIGTERM" and svc["Restart"] == "on-failure" and svc["Type"] in ("simple", "notify")
    assert svc["User"] == "rsu" and svc["WorkingDirectory"] == "/var/lib/rsu"
    assert int(svc["TimeoutStopSec"]) > 5 + 1  # plugins.stop_timeout_s + linger + the last checkpoint
    assert svc["RestartPreventExitStatus"] == "2"  # exit 2 = invalid config, as `rsu run` exits
    assert " run " in svc["ExecStart"] and unit["Install"]["WantedBy"] == "multi-user.target"
