"""Sources live (issue 23): add, remove and restart sources of a running box through its authenticated web API
(``/api/sources``) and ``rsu sources``, with no restart of the box and no gap in the other sources' ``seq``."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from rsu_sdk import SensorReading

from rsu.app.box_health import box_components
from rsu.app.testing import Subscriber, running_box, wait_for
from support import make_video
from rsu.config import load_config
from rsu.config.yaml_edit import add_source_text, remove_source_text

TOKEN = "live-sources-" + "t" * 28
SITE = "live"


def _video(path: Path, frames: int = 40, size: tuple[int, int] = (160, 120)) -> Path:
    return make_video(path, frames, size, fps=10, seed=1)


def _camera(source_id: str, video: Path) -> dict[str, Any]:
    return {"id": source_id, "type": "camera", "url": str(video), "loop": True, "fps": 4}


def _plant(tmp: Path, source_id: str = "plant") -> dict[str, Any]:
    from rsu.sim import get_simulator

    if not (tmp / "furnace").exists():
        get_simulator("furnace")(tmp / "furnace", 120.0, 7)
    return {"id": source_id, "type": "sensor_replay", "path": str(tmp / "furnace"), "speed": 20.0, "loop": True,
            "rebase_time": True}


def _config(tmp: Path, sources: list[dict[str, Any]]) -> dict[str, Any]:
    (tmp / "web.token").write_text(TOKEN + "\n")
    return {
        "version": 1,
        "site": {"name": SITE, "lat": 48.1374, "lon": 11.5755},
        "sources": sources,
        "models": {"detector": {"model": "yolov5s-vtest", "providers": ["cpu"], "threads": 1}},
        "pipeline": {"checkpoint": {"dir": str(tmp / "checkpoints")}},
        "publish": {"zmq": {"endpoint": "tcp://127.0.0.1:*"}},
        "web": {"enabled": True, "port": 0, "dashboard": False, "token_file": str(tmp / "web.token")},
    }


def _api(url: str, method: str, path: str, body: Any = None, *, token: str | None = TOKEN,
         headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """``(status, JSON answer)`` of one request to the box's web server."""
    sent = {"Content-Type": "application/json"} if method == "POST" else {}
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    sent.update(headers or {})
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url.rstrip("/") + path, data=data, method=method, headers=sent)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _contiguous(sub: Subscriber, topic: str) -> list[int]:
    """The seqs received on ``topic`` (exactly), asserted gap-free and from one boot of the box."""
    msgs = [m.payload for m in sub.under(topic) if m.topic == topic]
    assert msgs, f"nothing received on {topic}"
    seqs = [p["seq"] for p in msgs]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), f"{topic}: seq gap in {seqs}"
    assert len({p["boot"] for p in msgs}) == 1, f"{topic}: the box restarted"
    return seqs


def _count(sub: Subscriber, topic: str) -> int:
    return len([m for m in sub.under(topic) if m.topic == topic])


def test_a_camera_and_a_replay_are_added_one_removed_one_restarted_without_a_seq_gap(tmp_path: Path) -> None:
    from rsu.sim import get_simulator

    get_simulator("intersection")(tmp_path / "intersection", 30.0, 0)
    video = _video(tmp_path / "clip.avi")
    raw = _config(tmp_path, [_camera("cam-a", video), _plant(tmp_path)])
    env, cam_b, health = f"rsu/{SITE}/env/plant", f"rsu/{SITE}/detections/cam-b", f"rsu/{SITE}/health/plant"
    with running_box(raw, tmp_path) as built, Subscriber(built.endpoint, f"rsu/{SITE}/") as sub:
        url, box = built.services.url, built.box
        plant = box.source_set.get("plant")
        sub.wait_for_count(1, topic=f"rsu/{SITE}/detections/cam-a", timeout=120, what="cam-a's detections")
        sub.wait_for_count(20, topic=env, timeout=60, what="plant readings")

        status, doc = _api(url, "POST", "/api/sources", {"source": _camera("cam-b", video)})
        assert status == 201, doc
        assert doc["source"]["id"] == "cam-b" and doc["source"]["index"] == 2 and not doc["source"]["persisted"]
        replay = {"id": "intersection", "type": "replay", "path": str(tmp_path / "intersection"), "speed": 1.0,
                  "loop": True, "rebase_time": True}
        status, doc = _api(url, "POST", "/api/sources", {"source": replay})
        assert status == 201 and doc["source"]["state"] == "running", doc
        sub.wait_for_count(3, topic=cam_b, timeout=120, what="cam-b's detections")
        sub.wait_for_count(3, topic=f"rsu/{SITE}/radar/", timeout=60, what="the replay's radar scans")

        cam_a = box.source_set.get("cam-a")
        status, doc = _api(url, "DELETE", "/api/sources/cam-a")
        assert (status, doc) == (200, {"id": "cam-a", "removed": True, "stopped": True, "persisted": False})
        assert box.source_set.get("cam-a") is None and not cam_a.alive()
        wait_for(lambda: [m for m in sub.under(f"rsu/{SITE}/health/cam-a")
                          if (m.payload["status"], m.payload["message"]) == ("down", "removed")], 30,
                 "cam-a's removal on the bus")

        old = box.source_set.get("intersection")
        radar_before = len(sub.under(f"rsu/{SITE}/radar/"))
        status, doc = _api(url, "POST", "/api/sources/intersection/restart")
        assert status == 200 and doc["source"]["state"] == "running" and doc["source"]["old_stopped"], doc
        assert box.source_set.get("intersection") is not old and not old.alive()
        wait_for(lambda: len(sub.under(f"rsu/{SITE}/radar/")) > radar_before + 3, 60, "radar scans after the restart")

        # the untouched sources went on through all of it: same thread, never restarted, still publishing
        env_n, cam_n = _count(sub, env), _count(sub, cam_b)
        wait_for(lambda: _count(sub, env) > env_n + 20 and _count(sub, cam_b) > cam_n + 2, 120,
                 "plant readings and cam-b detections after the changes")
        assert box.source_set.get("plant") is plant and plant.alive() and plant.restarts == 0
        assert not box.stop_event.is_set() and box.router_alive()

        status, doc = _api(url, "GET", "/api/sources")
        assert status == 200 and [s["id"] for s in doc["sources"]] == ["plant", "cam-b", "intersection"]
        assert all(s["state"] == "running" for s in doc["sources"])
        summary = built.summary()
        assert set(summary["sources"]) == {"plant", "cam-b", "intersection"}
        assert summary["sources"]["cam-b"]["service"] == {"state": "running", "restarts": 0, "last_error": None}
        components = {row[1] for row in box_components(box, None)}
        assert {"source:plant", "source:cam-b", "source:intersection"} <= components
        assert "source:cam-a" not in components
        sub.wait_for_count(2, topic=health, timeout=30, what="plant heartbeats")
    for topic in (env, cam_b, health):
        _contiguous(sub, topic)


def test_unauthorised_invalid_duplicate_unknown_and_persisted_requests(tmp_path: Path) -> None:
    cfg_path = tmp_path / "box.yaml"
    raw = _config(tmp_path, [_plant(tmp_path)])
    text = "# the live-sources box\n" + yaml.safe_dump(raw, sort_keys=False) + "# end of the file\n"
    cfg_path.write_text(text)
    with running_box(load_config(cfg_path), tmp_path) as built:
        built.live_sources.config_path = cfg_path
        url = built.services.url
        plant = built.box.source_set.get("plant")
        added = _plant(tmp_path, "plant2")
        for token in (None, "wrong-" + "x" * 30):
            for method, path, body in (("GET", "/api/sources", None), ("POST", "/api/sources", {"source": added}),
                                       ("DELETE", "/api/sources/plant", None),
                                       ("POST", "/api/sources/plant/restart", None)):
                status, doc = _api(url, method, path, body, token=token)
                assert status == 401 and "sources" not in doc and "source" not in doc, (method, path, token)
        assert built.box.source_set.get("plant") is plant and built.box.source_set.get("plant2") is None
        assert _api(url, "POST", "/api/sources", {"source": added}, headers={"Content-Type": "text/plain"})[0] == 415
        assert _api(url, "DELETE", "/api/sources/plant", headers={"Origin": "http://evil.example"})[0] == 403

        def refused(entry: Any) -> tuple[int, list[str]]:
            status, doc = _api(url, "POST", "/api/sources", {"source": entry})
            return status, doc.get("problems", [])

        assert refused({**added, "speed": -1}) == (400, ["sources[1].speed: must be >= 0"])
        assert refused({**added, "sped": 2}) == (400, ["sources[1].sped: unknown key; did you mean speed?"])
        status, problems = refused({**added, "path": str(tmp_path / "missing")})
        assert status == 400 and problems[0].startswith("sources[1].path: recording not found")
        status, problems = refused(_camera("cam-x", _video(tmp_path / "x.avi", frames=5)))
        assert status == 409 and problems[0].startswith("sources[1].type: this box started without a camera")
        status, problems = refused(_plant(tmp_path))
        assert status == 409 and problems[0].startswith("sources[1].id: duplicate id 'plant'")
        assert _api(url, "DELETE", "/api/sources/nope")[0] == 404
        assert _api(url, "POST", "/api/sources/nope/restart")[0] == 404
        assert [s["id"] for s in _api(url, "GET", "/api/sources")[1]["sources"]] == ["plant"]

        status, doc = _api(url, "POST", "/api/sources", {"source": added, "persist": True})
        assert status == 201 and doc["source"]["persisted"], doc
        assert [s.id for s in load_config(cfg_path).sources] == ["plant", "plant2"]
        written = cfg_path.read_text()
        assert written.startswith("# the live-sources box\n") and written.endswith("# end of the file\n")
        status, doc = _api(url, "POST", "/api/sources/plant2/restart", {"timeout_s": 5})
        assert status == 200 and doc["source"]["restarted"]
        status, doc = _api(url, "DELETE", "/api/sources/plant2?persist=true")
        assert status == 200 and doc["persisted"] and doc["stopped"]
        assert cfg_path.read_text() == text  # the file is as it was before the add
        assert built.box.source_set.get("plant") is plant and plant.restarts == 0

        from rsu.cli import main

        base = ["--url", url, "--token-file", str(tmp_path / "web.token")]
        result = CliRunner().invoke(main, ["sources", "list", *base])
        assert result.exit_code == 0 and "plant" in result.output and "running" in result.output, result.output
        bad = tmp_path / "bad.yaml"
        bad.write_text(yaml.safe_dump([{**added, "speed": "fast"}]))
        result = CliRunner().invoke(main, ["sources", "add", str(bad), *base])
        assert result.exit_code == 2 and "sources[1].speed" in result.stderr, result.output
        good = tmp_path / "good.json"
        good.write_text(json.dumps(added))
        result = CliRunner().invoke(main, ["sources", "add", str(good), *base])
        assert result.exit_code == 0 and "added plant2 (sensor_replay) as sources[1]" in result.output, result.output
        result = CliRunner().invoke(main, ["sources", "restart", "plant2", *base])
        assert result.exit_code == 0, result.output
        result = CliRunner().invoke(main, ["sources", "remove", "plant2", *base])
        assert result.exit_code == 0 and "removed plant2" in result.output, result.output
        result = CliRunner().invoke(main, ["sources", "remove", "plant2", *base])
        assert result.exit_code == 2 and "no source 'plant2'" in result.stderr
        result = CliRunner().invoke(main, ["sources", "list", "--url", url])  # no token
        assert result.exit_code == 1 and "refused (401)" in result.stderr


class _Stubborn:
    """Emits readings and ignores ``stop`` until released: a source stuck in a read that has no timeout."""

    def __init__(self, source_id: str) -> None:
        self.id, self.release, self.emitted = source_id, threading.Event(), 0

    def run(self, emit: Any, stop: threading.Event) -> None:
        while not self.release.is_set():
            emit(SensorReading(source=self.id, t_event_ns=time.time_ns(), device="d", values={"x": 1.0}))
            self.emitted += 1
            self.release.wait(0.005)

    def stats(self) -> dict[str, Any]:
        return {"emitted": self.emitted}


class _Sink:
    def __init__(self) -> None:
        self.got: list[Any] = []

    def deliver(self, product: Any, origin: str) -> None:
        self.got.append(product)

    def stop_plugins(self) -> None: ...

    def close(self) -> None: ...

    def stats(self) -> dict[str, Any]:
        return {}


def test_a_removed_source_that_outlives_its_deadline_reaches_nothing_and_an_empty_box_keeps_running() -> None:
    from rsu.app.box import Box

    stuck, sink = _Stubborn("stuck"), _Sink()
    box = Box(sources=[stuck], sink=sink)
    box.start()
    try:
        wait_for(lambda: any(p.source == "stuck" for p in sink.got), 30, "a first reading")
        _, ended = box.source_set.remove("stuck", time.monotonic() + 0.05)
        assert not ended  # its thread is still in its read
        assert box.drain(30)
        delivered, emitted = len(sink.got), stuck.emitted
        wait_for(lambda: stuck.emitted > emitted + 5, 30, "the stuck source to emit more")
        assert box.drain(30) and len(sink.got) == delivered  # discarded: it was removed
        assert box.sources == [] and not box.sources_finished()  # no source now; the box waits for the next
    finally:
        stuck.release.set()
        box.stop()


@pytest.mark.parametrize("text", [
    "site: {name: s}\nsources:\n  # cams\n  - id: a   # first\n    type: camera\n    url: a.avi\n\n"
    "# next\npublish: {}\n",
    "site: {name: s}\nsources:\n- id: a\n  type: camera\n  url: a.avi\npublish: {}\n",
    "site: {name: s}\nsources: []\npublish: {}\n",
    "site: {name: s}\n",
])
def test_the_config_file_keeps_every_other_line(text: str) -> None:
    entry = {"id": "b", "type": "replay", "path": "rec", "speed": 2.0}
    added = add_source_text(text, entry)
    before, after = yaml.safe_load(text), yaml.safe_load(added)
    assert after["sources"] == [*(before.get("sources") or []), entry]
    assert {k: v for k, v in after.items() if k != "sources"} == {k: v for k, v in before.items() if k != "sources"}
    assert all(line in added for line in text.splitlines() if line.strip().startswith("#"))
    removed = yaml.safe_load(remove_source_text(added, "b"))
    assert (removed.get("sources") or []) == (before.get("sources") or [])
    if before.get("sources"):
        assert remove_source_text(added, "b") == text
