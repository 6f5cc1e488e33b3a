"""The box's web server against a running demo-like box: state, frames (privacy blur), metrics, health."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import prometheus_client
import pytest
from prometheus_client.parser import text_string_to_metric_families

from rsu.app.build import StartupError, build_box
from rsu.config import parse_config
from support import running_box, wait_until
from web_helpers import demo_like_config, get, get_json


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("web")
    raw = demo_like_config(tmp, plant=False)
    raw["web"]["frame_fps"] = 2.0  # one encode per 0.5 s per camera: back-to-back requests share it
    with running_box(raw, tmp, state_root=tmp / "state") as built:
        built.test_video = Path(raw["sources"][0]["url"])
        yield built


def _url(box: Any, path: str) -> str:
    return box.services.url.rstrip("/") + path


def _state_with_objects(box: Any) -> dict[str, Any] | None:
    status, doc = get_json(_url(box, "/api/state"))
    if status == 200 and any(o["items"] for o in doc["objects"]) and any(c["detections"] for c in doc["cameras"]):
        return doc
    return None


def test_nothing_is_encoded_until_someone_watches(box: Any) -> None:
    frames = box.services.frames
    wait_until(lambda: box.services.live.camera_counts().get("cam-vtest", {}).get("frames", 0) >= 5, 20,
               "camera frames in the live state")
    assert frames.counts["encoded"] == 0  # frames flowed, nobody asked: nothing encoded
    a, b = get(_url(box, "/api/frame/cam-vtest.jpg")), get(_url(box, "/api/frame/cam-vtest.jpg"))
    assert a[0] == b[0] == 200 and a[2] == b[2]  # the second viewer got the same encode
    assert frames.counts["encoded"] == 1 and frames.counts["cached"] >= 1


def test_healthz_and_readyz(box: Any) -> None:
    status, doc = get_json(_url(box, "/healthz"))
    assert status == 200 and doc["ok"] is True and doc["checks"]["router"] == "alive"
    ready = wait_until(lambda: get_json(_url(box, "/readyz"))[0] == 200, 20, "/readyz 200", interval=0.2)
    assert ready
    status, doc = get_json(_url(box, "/readyz"))
    assert doc["checks"]["sources"] == "opened" and doc["checks"]["plugins"] == "started"
    assert doc["checks"]["publisher"].startswith("tcp://127.0.0.1:")


def test_state_has_fused_objects_radar_cameras_and_plugins(box: Any) -> None:
    doc = wait_until(lambda: _state_with_objects(box), 30, "/api/state with fused objects and detections",
                     interval=0.2)
    assert doc["schema"] == "rsu.dashboard/1" and doc["site"]["name"] == "webtest" and doc["live"] is True
    fused = next(o for o in doc["objects"] if o["items"])
    assert fused["source"] == "fusion"
    obj = fused["items"][0]
    assert {"track_id", "class", "e", "n", "ve", "vn", "heading_deg", "state", "sources"} <= set(obj)
    assert all(abs(o["e"]) < 500 and abs(o["n"]) < 500 for o in fused["items"])
    radar = wait_until(lambda: [r for r in get_json(_url(box, "/api/state"))[1]["radar"] if r["items"]], 10,
                       "radar objects", interval=0.2)
    assert radar[0]["source"] == "radar-1" and "e" in radar[0]["items"][0]  # placed on the map by its mount
    cams = {c["id"]: c for c in doc["cameras"]}
    assert cams["cam-vtest"]["has_images"] and cams["cam-vtest"]["image_size"] == [768, 576]
    assert cams["cam-1"]["calibrated"] and not cams["cam-1"]["has_images"]  # detections only (recording)
    assert [p["name"] for p in doc["plugins"]] == ["traffic_broadcast"]
    assert doc["plugins"][0]["status"] == "running"
    assert doc["metrics"]["frames"] > 0 and doc["metrics"]["detections"] > 0
    assert doc["sensors"]["radars"][0]["id"] == "radar-1" and doc["sensors"]["cameras"][0]["id"] == "cam-1"


def _sharpness(img: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())


def test_frame_is_a_jpeg_of_the_video_with_heads_blurred(box: Any) -> None:
    def blurred_frame() -> tuple[dict[str, str], bytes] | None:
        status, headers, body = get(_url(box, "/api/frame/cam-vtest.jpg"))
        assert status == 200 and headers["Content-Type"] == "image/jpeg"
        boxes = json.loads(headers["X-Privacy-Boxes"])
        big = [b for b in boxes if (b[2] - b[0]) >= 14 and (b[3] - b[1]) >= 14]
        return (headers, body) if headers["X-Frame-Kind"] == "camera" and big else None

    headers, body = wait_until(blurred_frame, 20, "a camera frame with privacy regions", interval=0.5)
    assert body[:3] == b"\xff\xd8\xff"  # JPEG magic
    served = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
    frame_id = int(headers["X-Frame-Id"])
    cap = cv2.VideoCapture(str(box.test_video))
    cap.set(cv2.CAP_PROP_POS_FRAMES, frame_id % int(cap.get(cv2.CAP_PROP_FRAME_COUNT)))
    ok, raw = cap.read()
    cap.release()
    assert ok and raw.shape == served.shape
    # the same frame: most pixels match up to JPEG noise (boxes and labels cover a small part)
    assert float(np.median(np.abs(served.astype(int) - raw.astype(int)))) <= 4
    ratios = []
    for x1, y1, x2, y2 in json.loads(headers["X-Privacy-Boxes"]):
        if x2 - x1 < 14 or y2 - y1 < 14:
            continue
        inner = (slice(y1 + 3, y2 - 3), slice(x1 + 3, x2 - 3))  # inside the drawn box edge
        ratios.append(_sharpness(served[inner]) / max(_sharpness(raw[inner]), 1e-6))
    assert ratios and float(np.median(ratios)) < 0.35, ratios  # the detail inside is gone


def test_schematic_view_of_a_camera_without_images(box: Any) -> None:
    wait_until(lambda: _state_with_objects(box), 30, "fused objects", interval=0.2)
    status, headers, body = get(_url(box, "/api/frame/cam-1.jpg"))
    assert status == 200 and headers["X-Frame-Kind"] == "schematic"
    img = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
    assert img.shape == (540, 960, 3)  # 1920x1080 scaled to max_width 960
    yellow = (img[:, :, 2] > 200) & (img[:, :, 1] > 180) & (img[:, :, 0] < 80)  # projected tracks' labels
    assert yellow.sum() > 50


def test_metrics_exposes_the_named_families(box: Any) -> None:
    wait_until(lambda: _state_with_objects(box), 30, "fused objects", interval=0.2)
    wait_until(lambda: box.services.counters.snapshot()["frames"], 10, "frames counted")
    status, headers, body = get(_url(box, "/metrics"))
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    fams = {f.name: f for f in text_string_to_metric_families(body.decode())}
    for name in ("rsu_frames", "rsu_detections", "rsu_radar_objects", "rsu_tracks", "rsu_tracks_started",
                 "rsu_drops", "rsu_queue_depth", "rsu_plugin_calls", "rsu_plugin_errors", "rsu_plugin_up",
                 "rsu_inference_latency_seconds", "rsu_process_cpu_seconds", "rsu_process_resident_memory_bytes",
                 "rsu_host_cpu_percent", "rsu_published_messages", "rsu_live", "rsu_ready", "rsu_products"):
        assert name in fams, name

    def value(name: str, suffix: str = "", **labels: str) -> float:
        for s in fams[name].samples:
            if s.name == name + suffix and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
        raise AssertionError(f"{name}{suffix} {labels} missing")

    assert value("rsu_frames", "_total", source="cam-vtest") > 0
    assert value("rsu_detections", "_total", source="cam-vtest") > 0
    assert value("rsu_radar_objects", "_total", source="radar-1") > 0
    assert value("rsu_plugin_calls", "_total", plugin="traffic_broadcast") > 0
    assert value("rsu_plugin_errors", "_total", plugin="traffic_broadcast") == 0
    assert value("rsu_queue_depth", queue="ingest") >= 0
    assert value("rsu_process_resident_memory_bytes") > 50e6
    n = value("rsu_inference_latency_seconds", "_count", stage="detector")
    assert n > 0 and value("rsu_inference_latency_seconds", "_sum", stage="detector") > 0
    buckets = [s for s in fams["rsu_inference_latency_seconds"].samples if s.name.endswith("_bucket")]
    counts = [s.value for s in buckets]
    assert counts == sorted(counts) and counts[-1] == n and buckets[-1].labels["le"] == "+Inf"
    documented = (Path(__file__).resolve().parents[1] / "docs" / "operations.md").read_text()
    missing = [name for name in fams if name.startswith("rsu_") and f"`{name}`" not in documented]
    assert not missing, f"metrics not documented in docs/operations.md: {missing}"
    # a registry of its own: nothing of the box leaks into the process-global default registry
    assert box.services.registry is not prometheus_client.REGISTRY
    assert b"rsu_frames" not in prometheus_client.generate_latest(prometheus_client.REGISTRY)


def test_dashboard_page_and_assets_are_local(box: Any) -> None:
    status, headers, page = get(_url(box, "/"))
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    for asset in (b"/static/app.js", b"/static/style.css"):
        assert asset in page
        status, _, body = get(_url(box, asset.decode()))
        assert status == 200 and body
        assert b"http://" not in body and b"https://" not in body  # no CDN, no web fonts
    assert get(_url(box, "/static/../build.py"))[0] == 404
    assert get(_url(box, "/api/frame/no-such-camera.jpg"))[0] == 404
    assert get(_url(box, "/nope"))[0] == 404


def test_a_taken_web_port_is_a_startup_error(box: Any, tmp_path: Path) -> None:
    port = box.services.server.port
    raw = {"version": 1, "site": {"name": "clash", "lat": 0, "lon": 0},
           "publish": {"zmq": {"endpoint": "tcp://127.0.0.1:*"}},
           "web": {"enabled": True, "port": port}}
    with pytest.raises(StartupError) as info:
        build_box(parse_config(raw), base_dir=tmp_path)
    assert info.value.problems == [f"web: cannot listen on 127.0.0.1:{port}: Address already in use"]
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        pass  # the running box's server is untouched
