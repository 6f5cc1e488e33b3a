"""`rsu check` and the config loader: valid configs pass; every problem `rsu run` would stop on is named by its
dotted key path, with exit 2 and no traceback, whatever the file holds."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from rsu_sdk import SourceSpec, hookimpl

from rsu.cli import main
from rsu.config import ConfigError, load_config, parse_config
from rsu.app.preflight import preflight
from rsu.config.yaml_io import YamlReadError, decode_text, parse_yaml

SITE = {"name": "test-site", "lat": 48.1, "lon": 11.5}
VALID = {
    "site": SITE,
    "sources": [
        {"type": "camera", "id": "cam-1", "url": "video.avi", "fps": 10},
        {"type": "ars408", "id": "radar-1", "interface": "virtual", "channel": "vcan0"},
    ],
    "models": {"detector": {"model": "tiny.onnx", "providers": ["cpu"]}},
    "publish": {"zmq": {"endpoint": "tcp://127.0.0.1:*"}},
}


def rsu(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rsu", *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd)


def write(tmp_path: Path, data: object, name: str = "site.yaml") -> Path:
    path = tmp_path / name
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def tiny_onnx(path: Path) -> Path:
    """A real (one Identity node) ONNX model: enough for the model-file check."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 32, 32])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "tiny", [x], [y])
    onnx.save(helper.make_model(graph), str(path))
    return path


@pytest.fixture()
def site_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding what VALID names: a video file and a detector model."""
    (tmp_path / "video.avi").write_bytes(b"placeholder: only its existence is checked")
    tiny_onnx(tmp_path / "tiny.onnx")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def held_port(kind: int, hold: list[socket.socket]) -> int:
    """A loopback port some other socket holds for the rest of the test."""
    sock = socket.socket(socket.AF_INET, kind)
    sock.bind(("127.0.0.1", 0))
    if kind == socket.SOCK_STREAM:
        sock.listen()
    hold.append(sock)
    return int(sock.getsockname()[1])


def with_(**changes: Any) -> dict[str, Any]:
    return {**VALID, **changes}


def camera(url: str) -> list[dict[str, Any]]:
    return [{"type": "camera", "id": "cam-1", "url": url}]


def radar(port: int, sid: str = "radar-1", **extra: Any) -> dict[str, Any]:
    return {"type": "radar_udp", "id": sid, "port": port, **extra}


def _mkdir(tmp: Path, name: str) -> Path:
    (tmp / name).mkdir(parents=True, exist_ok=True)
    return tmp / name


# Each case: (id, make(tmp, hold) -> file content, the line the output must hold: it starts with the key path)
Make = Callable[[Path, list[socket.socket]], Any]
BROKEN: list[tuple[str, Make, str]] = [
    ("unknown-top-key", lambda t, h: with_(publsh={}), "publsh: unknown key; did you mean publish?"),
    ("unknown-nested-key", lambda t, h: with_(web={"prot": 8080}), "web.prot: unknown key; did you mean port?"),
    ("unknown-source-key", lambda t, h: with_(sources=[{**camera("video.avi")[0], "fsp": 5}]),
     "sources[0].fsp: unknown key; did you mean fps?"),
    ("duplicate-yaml-key", lambda t, h: "site: {name: s, lat: 0, lon: 0}\npublish:\n  zmq:\n"
     "    endpoint: tcp://127.0.0.1:5556\n    endpoint: tcp://127.0.0.1:5557\n",
     "publish.zmq.endpoint: duplicate key at line 5 (first at line 4)"),
    ("duplicate-key-in-list", lambda t, h: "site: {name: s, lat: 0, lon: 0}\nsources:\n"
     "  - {id: a, type: camera, url: video.avi, url: other.avi}\n", "sources[0].url: duplicate key at line 3"),
    ("binary-file", lambda t, h: b"\x7fELF\x02\x01\x01\x00\x00\x00garbage", "…site.yaml: not a text file (a NUL byte at offset 7)"),
    ("latin-1-file", lambda t, h: "site: {name: caf\u00e9, lat: 0, lon: 0}\n".encode("latin-1"),
     "…site.yaml: not UTF-8 text: byte 0xe9"),
    ("utf-16-file", lambda t, h: "site: {}\n".encode("utf-16"), "…site.yaml: the file is UTF-16 text"),
    ("control-character", lambda t, h: "site: {name: s, lat: 0, lon: 0}\nweb: {host: a\x14b}\n",
     "not valid YAML text: control character #x0014 at line 2"),
    ("yaml-invalid-date", lambda t, h: "site: {name: s, lat: 0, lon: 0}\nsources:\n  - {id: a, t: 2024-13-45}\n",
     "YAML value at line 3, column 16 cannot be read: ValueError: month must be in 1..12"),
    ("yaml-bad-explicit-tag", lambda t, h: "site: {name: s, lat: !!float north, lon: 0}\n",
     "YAML value at line 1, column 22 cannot be read: ValueError"),
    ("yaml-python-tag", lambda t, h: "site: !!python/object/apply:os.system [true]\n",
     "YAML value at line 1, column 7 cannot be read: could not determine a constructor"),
    ("yaml-syntax", lambda t, h: "site: {name: s, lat: [1,\n", "YAML syntax error at line"),
    ("yaml-too-deep", lambda t, h: "site: " + "[" * 5000 + "]" * 5000 + "\n", "YAML nested too deeply"),
    ("top-level-list", lambda t, h: "- 1\n- 2\n", "(top level): expected a mapping, got list"),
    ("source-not-a-mapping", lambda t, h: with_(sources=["camera"]), "sources[0]: expected a mapping"),
    ("source-type-missing", lambda t, h: with_(sources=[{"id": "cam-1", "url": "video.avi"}]),
     "sources[0].type: required key is missing"),
    ("source-type-unknown", lambda t, h: with_(sources=[{"id": "l", "type": "lidar"}]),
     "sources[0].type: unknown source type 'lidar'; known: camera, ars408, radar_udp"),
    ("duplicate-source-id", lambda t, h: with_(sources=[*camera("video.avi"), *camera("video.avi")]),
     "sources[1].id: duplicate id 'cam-1' (also sources[0])"),
    ("camera-file-missing", lambda t, h: with_(sources=camera("videos/nope.avi")),
     "sources[0].url: camera file not found:"),
    ("camera-url-is-a-folder", lambda t, h: (_mkdir(t, "clips"), with_(sources=camera("clips")))[1],
     "sources[0].url: …clips is a folder, not a video file"),
    ("replay-missing", lambda t, h: with_(sources=[{"id": "x", "type": "replay", "path": "var/rec"}]),
     "sources[0].path: recording not found:"),
    ("sensor-replay-empty-folder", lambda t, h: (_mkdir(t, "plant"), with_(sources=[
        {"id": "f", "type": "sensor_replay", "path": "plant"}], plugins={"enabled": ["furnace_fault"]}))[1],
     "sources[0].path: no readings.csv in the folder"),
    ("air-station-replay-missing", lambda t, h: with_(sources=[{"id": "air", "type": "air_station",
                                                                "replay": {"path": "rec/air"}}]),
     "sources[0].replay.path: recording not found:"),
    ("detector-file-missing", lambda t, h: with_(models={"detector": {"model": "models/absent.onnx"}}),
     "models.detector.model: model file not found:"),
    ("detector-not-onnx", lambda t, h: ((t / "junk.onnx").write_bytes(b"\x08\x07not a model\xff" * 50),
                                        with_(models={"detector": {"model": "junk.onnx"}}))[1],
     "models.detector.model: cannot load model"),
    ("detector-empty-onnx", lambda t, h: ((t / "empty.onnx").write_bytes(b""),
                                          with_(models={"detector": {"model": "empty.onnx"}}))[1],
     "models.detector.model: …empty.onnx is not an ONNX model (no graph)"),
    ("detector-unknown-name", lambda t, h: with_(models={"detector": {"model": "yolov99"}}),
     "models.detector.model: unknown model 'yolov99'"),
    ("fault-model-not-registered", lambda t, h: ((_mkdir(t, "plant") / "readings.csv").write_text("x\n"), with_(
        sources=[{"id": "f", "type": "sensor_replay", "path": "plant"}], fault_prediction={"model": "fault-lstm"}))[1],
     "fault_prediction.model: no enabled plugin registers model 'fault-lstm'"),
    ("plugin-enabled-twice", lambda t, h: with_(plugins={"enabled": ["furnace_fault", "furnace_fault"]}),
     "plugins.enabled: plugin 'furnace_fault' is enabled twice"),
    ("plugin-not-installed", lambda t, h: with_(plugins={"enabled": ["ghost"]}),
     "plugins.enabled[0]: plugin 'ghost' is not installed"),
    ("plugin-setting-typo", lambda t, h: with_(plugins={"enabled": ["furnace_fault"],
                                                        "furnace_fault": {"raise_threshld": 0.9}}),
     "plugins.furnace_fault.raise_threshld: unknown key; did you mean raise_threshold?"),
    ("nan-site-altitude", lambda t, h: "site: {name: s, lat: 0, lon: 0, alt: .nan}\n",
     "site.alt: must be a finite number"),
    ("inf-radar-position", lambda t, h: "site: {name: s, lat: 0, lon: 0}\nfusion:\n  radars:\n"
     "    radar-1: {position: [.inf, 0, 0]}\n",
     "fusion.radars.radar-1.position[0]: must be a finite number"),
    ("nan-source-pose", lambda t, h: "site: {name: s, lat: 0, lon: 0}\nsources:\n"
     "  - {id: r, type: radar_udp, port: 4001, pose: {position: [0, .nan, 0]}}\n",
     "sources[0].pose.position[1]: must be a finite number"),
    ("publish-port-out-of-range", lambda t, h: with_(publish={"zmq": {"endpoint": "tcp://127.0.0.1:70000"}}),
     "publish.zmq.endpoint: port 70000 is out of range"),
    ("web-port-out-of-range", lambda t, h: with_(web={"port": 70000}), "web.port: must be <= 65535"),
    ("web-host-not-a-host", lambda t, h: with_(web={"host": "not a host!"}), "web.host: 'not a host!' is not a valid"),
    ("radar-host-bad-ip", lambda t, h: with_(sources=[radar(4002, host="300.1.1.1")]),
     "sources[0].host: '300.1.1.1' is not a valid"),
    ("tiered-endpoint", lambda t, h: with_(tiered={"endpoint": "tcp://edge:port"}), "tiered.endpoint: port 'port'"),
    ("two-radars-one-port", lambda t, h: with_(sources=[radar(4003), radar(4003, "radar-2")]),
     "sources[1].port: udp port 4003 is also bound by sources[0].port"),
    ("web-port-is-publish-port", lambda t, h: with_(publish={"zmq": {"endpoint": "tcp://127.0.0.1:5599"}},
                                                    web={"enabled": True, "port": 5599}),
     "web.port: tcp port 5599 is also bound by publish.zmq.endpoint"),
    ("publish-port-in-use", lambda t, h: with_(publish={"zmq": {
        "endpoint": f"tcp://127.0.0.1:{held_port(socket.SOCK_STREAM, h)}"}}), "publish.zmq.endpoint: cannot bind"),
    ("web-port-in-use", lambda t, h: with_(web={"enabled": True, "port": held_port(socket.SOCK_STREAM, h)}),
     "web.port: cannot listen on 127.0.0.1:"),
    ("radar-port-in-use", lambda t, h: with_(sources=[radar(held_port(socket.SOCK_DGRAM, h))]),
     "sources[0].port: cannot listen on 127.0.0.1:"),
    ("curve-key-missing", lambda t, h: with_(publish={"zmq": {"endpoint": "tcp://127.0.0.1:*", "curve": {
        "server_secret_key": "keys/server.key_secret", "authorized_keys": "keys/clients"}}}),
     "publish.zmq.curve.server_secret_key: cannot read key file …server.key_secret"),
    ("federated-template-missing", lambda t, h: with_(federated={"aggregator": {"template": "v0.onnx"}}),
     "federated.aggregator.template: model file not found: …v0.onnx"),
    ("checkpoint-dir-is-a-file", lambda t, h: ((t / "ckpt").write_text("x"),
                                               with_(pipeline={"checkpoint": {"dir": "ckpt/box"}}))[1],
     "pipeline.checkpoint.dir: …ckpt is a file, not a folder"),
]


@pytest.mark.parametrize(("make", "expected"), [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN])
def test_rsu_check_names_each_broken_config(site_dir: Path, make: Make, expected: str) -> None:
    hold: list[socket.socket] = []
    try:
        path = write(site_dir, make(site_dir, hold))
        result = CliRunner().invoke(main, ["check", str(path)])
    finally:
        for sock in hold:
            sock.close()
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    head, *rest = expected.split("…")  # "…": anything (a path of this test's folder)
    lines = [ln.strip() for ln in result.output.splitlines()]
    assert any(ln.startswith(head) and all(part in ln for part in rest) for ln in lines), result.output


def test_valid_config_parses() -> None:
    cfg = parse_config(VALID)
    assert cfg.site.name == "test-site"
    assert [s.id for s in cfg.sources] == ["cam-1", "radar-1"]
    assert cfg.plugins.failure_limit == 5


def test_every_problem_is_a_dotted_path() -> None:
    bad = {
        "site": {"name": "Bad Name", "lat": 91, "lon": 0},
        "sources": [
            {"type": "camera", "id": "cam-1", "url": "x"},
            {"type": "camera", "id": "cam-2", "url": "x", "fps": 0, "colour": "red"},
        ],
        "publish": {"zmq": {"endpoint": "http://nope"}},
        "surprise": 1,
    }
    with pytest.raises(ConfigError) as info:
        parse_config(bad)
    problems = info.value.problems
    paths = {p.split(":")[0] for p in problems}
    assert {"sources[1].fps", "sources[1].colour", "site.name", "site.lat", "publish.zmq.endpoint",
            "surprise"} <= paths
    assert "sources[1].fps: must be > 0" in problems
    assert "surprise: unknown key" in problems  # nothing near enough to suggest


def test_all_problems_of_a_file_are_listed_at_once(site_dir: Path) -> None:
    cfg = load_config(write(site_dir, with_(sources=[*camera("gone.avi"), {"id": "l", "type": "lidar"},
                                                     radar(4010, "r-1"), radar(4010, "r-2")],
                                            models={"detector": {"model": "absent.onnx"}})))
    problems = preflight(cfg, site_dir, ports=False)
    assert [p.split(":")[0] for p in problems] == [
        "sources[0].url", "sources[1].type", "models.detector.model", "sources[3].port"]


def test_valid_config_has_no_start_up_problems(site_dir: Path) -> None:
    assert preflight(load_config(write(site_dir, VALID)), site_dir) == []


def test_yaml_merge_keys_and_aliases_are_not_duplicates() -> None:
    text = "base: &b {a: 1, b: 2}\nx:\n  <<: *b\n  a: 3\ny: *b\n"
    assert parse_yaml(text) == {"base": {"a": 1, "b": 2}, "x": {"a": 3, "b": 2}, "y": {"a": 1, "b": 2}}
    with pytest.raises(YamlReadError, match=r"^y\.a: duplicate key at line 3 \(first at line 2\)"):
        parse_yaml("y:\n  a: 1\n  a: 2\n")


def test_missing_file_and_folder_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read file: No such file or directory"):
        load_config(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="is a folder, not a config file"):
        load_config(tmp_path)


def test_cli_check_valid_exits_0(site_dir: Path) -> None:
    result = rsu("check", str(write(site_dir, VALID)), cwd=site_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(": ok")


def test_cli_check_no_ports_skips_only_the_bind_test(site_dir: Path) -> None:
    hold: list[socket.socket] = []
    try:
        port = held_port(socket.SOCK_STREAM, hold)
        path = write(site_dir, with_(web={"enabled": True, "port": port}))
        taken = CliRunner().invoke(main, ["check", str(path)])
        skipped = CliRunner().invoke(main, ["check", "--no-ports", str(path)])
    finally:
        for sock in hold:
            sock.close()
    assert taken.exit_code == 2 and f"web.port: cannot listen on 127.0.0.1:{port}" in taken.output
    assert skipped.exit_code == 0, skipped.output


def test_cli_check_binary_file_is_one_line_in_a_real_process(tmp_path: Path) -> None:
    path = write(tmp_path, bytes(range(256)))
    result = rsu("check", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[1:] == [
        f"  {path}: not a text file (a NUL byte at offset 0): a config is YAML text"]


def test_rsu_run_exits_2_on_what_check_reports(site_dir: Path) -> None:
    path = write(site_dir, with_(sources=camera("nope.avi"),
                                 plugins={"enabled": ["furnace_fault"], "furnace_fault": {"raise_threshld": 1}}))
    result = rsu("run", str(path), "--for", "1", cwd=site_dir)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert result.stderr.splitlines() == [
        "rsu run: cannot start:",
        "  plugins.furnace_fault.raise_threshld: unknown key; did you mean raise_threshold?",
        f"  sources[0].url: camera file not found: {site_dir / 'nope.avi'}",
    ]


def test_random_configs_raise_only_config_errors() -> None:
    hyp = pytest.importorskip("hypothesis")
    st = hyp.strategies
    keys = st.sampled_from(["site", "name", "lat", "lon", "alt", "sources", "type", "id", "url", "camera", "plugin",
                            "radar_udp", "port", "host", "publish", "zmq", "endpoint", "web", "plugins", "enabled",
                            "models", "detector", "model", "fusion", "radars", "position", "replay", "publsh"])
    leaves = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=12) | keys
    values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
                          max_leaves=30)

    @hyp.settings(max_examples=150, deadline=None, database=None)
    @hyp.given(st.dictionaries(keys, values, max_size=6))
    def check(raw: dict[str, Any]) -> None:
        try:
            parse_config(raw)
        except ConfigError as exc:
            assert exc.problems and all(isinstance(p, str) and ": " in p for p in exc.problems)

    check()

    tokens = st.sampled_from(["site:", "a: ", " ", "  ", "\n", "- ", "[", "]", "{", "}", ":", ",", "? ", "<<: ",
                              "&a ", "*a", "!!int ", "!!float ", "!!timestamp ", "!!binary ", "!!set ", "!!map ",
                              "2024-13-45", "2024-01-01 25:00:00", ".nan", "1e400", "08", "'", '"', "#", "|", ">",
                              "\t", "x", "1", "\x00", "\x14", "\u00e9", "\ufeff"])
    yamlish = st.lists(tokens, max_size=60).map("".join)

    @hyp.settings(max_examples=400, deadline=None, database=None)
    @hyp.given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode) | yamlish.map(str.encode))
    def read(data: bytes) -> None:
        try:
            parse_yaml(decode_text(data))
        except YamlReadError as exc:
            assert exc.problems and all(isinstance(p, str) for p in exc.problems)

    read()


class WeatherPlugin:
    """A real plugin adding the source kind ``weather`` whose settings need an integer ``port``."""

    @staticmethod
    def _open(settings: Any, should_stop: Callable[[], bool]) -> Any:
        return iter(())

    @hookimpl
    def rsu_register_sources(self) -> list[SourceSpec]:
        schema = {"type": "object", "properties": {"port": {"type": "integer"}}, "required": ["port"],
                  "additionalProperties": False}
        return [SourceSpec(kind="weather", open=self._open, config_schema=schema)]


def test_plugin_source_kinds_are_known_and_their_settings_checked(tmp_path: Path) -> None:
    from rsu.plugins.manager import create_plugin_manager

    pm = create_plugin_manager(["weather"], extra_plugins=[("weather", WeatherPlugin())]).pm
    good = parse_config({"site": SITE, "sources": [{"id": "w", "type": "weather", "port": 7}],
                         "plugins": {"enabled": ["weather"]}})
    assert preflight(good, tmp_path, pm=pm, ports=False) == []
    assert preflight(good, tmp_path, ports=False, extra_plugins=[("weather", WeatherPlugin())]) == []
    bad = parse_config({"site": SITE, "sources": [{"id": "w", "type": "weather", "prot": 7},
                                                  {"id": "l", "type": "lidar"}]})
    problems = preflight(bad, tmp_path, pm=pm, ports=False)
    assert problems[:2] == ["sources[0].port: required key is missing",
                            "sources[0].prot: unknown key; did you mean port?"]
    assert problems[2].startswith("sources[1].type: unknown source type 'lidar'; known: camera,")
    assert "sensor_replay, flink_results, weather (" in problems[2]  # the host's types, then the plugins'
