"""The offload server and client under hostile input (issue 16): limits checked before decoding, every
refusal counted, bad answers treated as a fallback, CURVE admitting only authorised boxes, and no bind beyond
loopback without keys. Real ZeroMQ sockets and the real SSD detector throughout; no timing assertions."""

from __future__ import annotations

import resource
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import zmq
import zmq.auth
from click.testing import CliRunner
from pydantic import ValidationError
from zmq.utils.monitor import recv_monitor_message

from rsu.app.perception import DetectorStage
from rsu.cli import main
from rsu.config.models import DetectorConfig
from rsu.config.publish import CurveConfig
from rsu.config.tiered import BackoffConfig, ClientCurveConfig, OffloadPolicyConfig, TieredConfig
from rsu.inference.detector import Detector
from rsu.publish.curve import generate_keys
from rsu.tiered.client import OffloadClient
from rsu.tiered.jpeg import ImageLimits, ImageRejected, jpeg_size
from rsu.tiered.protocol import ProtocolError, Reply, encode_jpeg, pack, unpack
from rsu.tiered.server import InferenceServer
from rsu.tiered.stage import TieredDetectorStage
from rsu_sdk import Frame

WAIT_MS = 30_000  # generous: a loaded 2-core machine


@pytest.fixture(scope="module")
def detector() -> Detector:
    from rsu.assetfetch.fetch import fetch_all
    from rsu.assets.paths import assets_dir

    fetch_all(assets_dir())
    return Detector.from_config(DetectorConfig(model="ssd-mobilenetv2-int8", threads=1))


def _jpeg(w: int = 160, h: int = 120, progressive: bool = False) -> bytes:
    """A small real JPEG (a smooth gradient: a few kB whatever its size)."""
    image = np.broadcast_to(np.linspace(0, 255, w, dtype=np.uint8)[None, :, None], (h, w, 3))
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(image), [cv2.IMWRITE_JPEG_PROGRESSIVE, int(progressive)])
    assert ok
    return buf.tobytes()


def _claiming(data: bytes, w: int, h: int) -> bytes:
    """``data`` with its frame header (SOF0) rewritten to claim ``w`` x ``h``."""
    at = data.index(b"\xff\xc0") + 5
    return data[:at] + h.to_bytes(2, "big") + w.to_bytes(2, "big") + data[at + 4:]


def test_jpeg_size_reads_only_the_header() -> None:
    assert jpeg_size(_jpeg(160, 120)) == (160, 120)
    assert jpeg_size(_jpeg(64, 48, progressive=True)) == (64, 48)  # SOF2
    assert jpeg_size(_claiming(_jpeg(), 16000, 16000)) == (16000, 16000)
    png = cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1].tobytes()
    for bad in (b"", b"\xff\xd8", png, _jpeg()[:20], b"\xff\xd8\xff\xda\x00\x02", _claiming(_jpeg(), 0, 5)):
        with pytest.raises(ImageRejected) as err:
            jpeg_size(bad)
        assert err.value.reason == "bad_image"


class _Peer:
    """A raw DEALER: one request, then its answer (or nothing for requests without an id)."""

    def __init__(self, endpoint: str, **curve: bytes) -> None:
        self.sock = zmq.Context.instance().socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        for key, value in curve.items():
            setattr(self.sock, key, value)
        self.monitor = self.sock.get_monitor_socket()
        self.sock.connect(endpoint)

    def ask(self, header: dict[str, Any], *body: bytes) -> dict[str, Any]:
        self.sock.send_multipart(pack(header, *body))
        assert self.sock.poll(WAIT_MS), f"no answer to {header}"
        doc, _ = unpack(self.sock.recv_multipart())
        assert doc["id"] == header["id"]
        return doc

    def wait_event(self, *events: int) -> int:
        while self.monitor.poll(WAIT_MS):
            event = recv_monitor_message(self.monitor)["event"]
            if event in events:
                return event
        raise AssertionError(f"none of the events {events} within {WAIT_MS} ms")

    def close(self) -> None:
        self.sock.disable_monitor()
        self.monitor.close(0)
        self.sock.close(0)


def test_hostile_requests_are_refused_before_decoding_and_counted(detector: Detector) -> None:
    limits = ImageLimits(max_bytes=200_000, max_side=2000, max_pixels=2000 * 2000)
    server = InferenceServer(detector, "tcp://127.0.0.1:*", limits=limits).start()
    peer = _Peer(server.endpoint)
    try:
        peer.sock.send_multipart([b"", b"garbage"])  # no id: counted, no answer
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        cases = [
            ({"id": 1}, b"", "request body is empty"),
            ({"id": 2}, _claiming(_jpeg(), 16000, 16000), "claims 16000x16000"),  # 137 kB once took 1.6 GB
            ({"id": 3}, _jpeg() + bytes(limits.max_bytes + 1 - len(_jpeg())), "over the limit of 200000"),
            ({"id": 4}, cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1].tobytes(), "not a JPEG"),
            ({"id": 5}, _jpeg(2400, 100), "claims 2400x100"),
            ({"id": 6, "frame_id": "x"}, _jpeg(), "'frame_id' must be an integer"),
            ({"id": 7, "t_event_ns": 10**30}, _jpeg(), "'t_event_ns' must be an integer"),
            ({"id": 8, "source": "s" * 1000}, _jpeg(), "'source' must be a string"),
        ]
        for header, body, message in cases:
            doc = peer.ask(header, body)
            assert doc["status"] == "error" and message in doc["error"], (header, doc)
        assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_kb < 300 * 1024  # nothing allocated
        assert peer.ask({"id": 9, "source": "cam-1"}, _jpeg())["status"] == "ok"  # it serves on
        # a message part far over the limit: ZeroMQ drops the connection before allocating it
        big = _Peer(server.endpoint)
        try:
            big.wait_event(zmq.EVENT_CONNECTED)
            big.sock.send_multipart(pack({"id": 10}, bytes(limits.max_bytes * 2)))
            big.wait_event(zmq.EVENT_DISCONNECTED)
        finally:
            big.close()
        assert peer.ask({"id": 11}, _jpeg())["status"] == "ok"
    finally:
        peer.close()
        server.close()
    stats = server.stats()
    assert stats["rejected"] == {"bad_request": 4, "empty": 1, "image_size": 2, "too_large": 1, "bad_image": 1}
    assert stats["answered"] == 2 and stats["requests"] == 11  # the dropped connection's message never arrived


def _doc(**changes: Any) -> dict[str, Any]:
    good = {"id": 1, "status": "ok", "infer_ms": 3.5, "class_names": ["person", "car"],
            "xyxy": [[10, 20, 50, 100], [0, 0, 160, 120]], "confidence": [0.9, 0.4], "class_id": [0, 1]}
    return {**good, **changes}


@pytest.mark.parametrize("changes, message", [
    ({"xyxy": [[10, 20, float("nan"), 100], [0, 0, 1, 1]]}, "NaN"),
    ({"confidence": [0.9, 1.5]}, "scores must lie in"),
    ({"confidence": [0.9, -0.1]}, "scores must lie in"),
    ({"class_id": [0, 2]}, "class id out of range"),
    ({"class_id": [0, 0.5]}, "must hold integers"),
    ({"xyxy": [[10, 20, 50, 100], [0, 0, 400, 120]]}, "outside the 160x120 image"),
    ({"xyxy": [[50, 20, 10, 100], [0, 0, 1, 1]]}, "x2 < x1"),
    ({"xyxy": [[10, 20], [50, 100], [0, 0], [1, 1]]}, "expected shape (N, 4)"),
    ({"xyxy": "boxes"}, "must be a list"),
    ({"confidence": [0.9]}, "2 boxes, 1 scores"),
    ({"class_names": "person"}, "'class_names' must be a list"),
    ({"class_names": ["person", "x" * 500]}, "'class_names' must be a list"),
    ({"xyxy": [[0, 0, 1, 1]] * 1001, "confidence": [0.5] * 1001, "class_id": [0] * 1001}, "more than 1000"),
    ({"infer_ms": float("inf")}, "'infer_ms'"),
])
def test_bad_answers_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ProtocolError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Reply.from_doc(_doc(**changes), (160, 120))


def test_good_answer_is_kept() -> None:
    reply = Reply.from_doc(_doc(), (160, 120))
    assert reply.class_names == ("person", "car") and reply.xyxy.shape == (2, 4) and reply.infer_ms == 3.5
    assert len(Reply.from_doc(_doc(xyxy=[], confidence=[], class_id=[]), (160, 120)).xyxy) == 0


def test_bad_answers_fall_back_to_the_local_result_counted(detector: Detector) -> None:
    """A lying server (a real ROUTER that answers scripted documents): bad answers are local results."""
    script = [{"xyxy": [[0, 0, 9000, 9000]], "confidence": [0.9], "class_id": [0]},
              {"status": "pwned"},
              {"xyxy": [[10, 10, 50, 60]], "confidence": [0.8], "class_id": [0]}]
    router = zmq.Context.instance().socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    router.bind("tcp://127.0.0.1:*")

    def answer() -> None:
        for changes in script:
            if not router.poll(WAIT_MS):
                return
            peer, *frames = router.recv_multipart()
            header, _ = unpack(frames)
            doc = {"id": header["id"], "status": "ok", "infer_ms": 1.0, "class_names": ["person"], **changes}
            router.send_multipart([peer, *pack(doc)])

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    cfg = TieredConfig(endpoint=router.getsockopt_string(zmq.LAST_ENDPOINT), deadline_ms=10_000.0,
                       offload=OffloadPolicyConfig(every_frame=True), backoff=BackoffConfig(after_failures=10))
    stage = TieredDetectorStage(DetectorStage(detector), cfg)
    image = np.full((120, 160, 3), 90, np.uint8)
    try:
        assert stage.client.wait_connected(WAIT_MS / 1e3)
        outs = [stage.process(Frame(source="cam-1", t_event_ns=1, frame_id=i, image=image))[0] for i in range(3)]
    finally:
        stage.close()
        thread.join(WAIT_MS / 1e3)
        router.close(0)
    assert [o.class_names == detector.class_names for o in outs] == [True, True, False]
    assert outs[2].labels == ["person"] and np.allclose(outs[2].xyxy, [[10, 10, 50, 60]])
    st = stage.stats()["tiered"]
    assert st["client"]["bad_reply"] == 2 and st["fallback"] == 2 and st["remote"] == 1


def test_curve_server_answers_only_authorised_boxes(detector: Detector, tmp_path: Path) -> None:
    keys = generate_keys(tmp_path / "keys", ("box",))
    stranger = generate_keys(tmp_path / "other", ("intruder",))  # a valid key pair the server never authorised
    curve = CurveConfig(server_secret_key=keys.server_secret, authorized_keys=keys.authorized_keys)
    server = InferenceServer(detector, "tcp://127.0.0.1:*", curve=curve).start()
    server_public = zmq.auth.load_certificate(str(keys.server_public))[0]
    intruder_public, intruder_secret = zmq.auth.load_certificate(str(stranger.clients["intruder"][1]))
    plain = _Peer(server.endpoint)
    intruder = _Peer(server.endpoint, curve_serverkey=server_public, curve_publickey=intruder_public,
                     curve_secretkey=intruder_secret)
    box = OffloadClient(server.endpoint, curve=ClientCurveConfig(server_key=keys.server_public,
                                                                 client_key=keys.clients["box"][1]))
    failed = (zmq.EVENT_HANDSHAKE_FAILED_AUTH, zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL,
              zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL, zmq.EVENT_DISCONNECTED)
    try:
        for peer in (plain, intruder):
            peer.sock.send_multipart(pack({"id": 1, "source": "evil"}, _jpeg()))  # queued; never delivered
            peer.wait_event(*failed)
        assert box.wait_connected(WAIT_MS / 1e3)
        header = {"source": "cam-1", "frame_id": 1, "t_event_ns": 1, "size": [160, 120], "scale": 1.0}
        reply = box.infer(header, _jpeg(), time.perf_counter() + WAIT_MS / 1e3)
        assert reply is not None and box.counts["answered"] == 1, (box.counts, server.stats())
        assert plain.sock.poll(0) == 0 and intruder.sock.poll(0) == 0
    finally:
        for peer in (plain, intruder):
            peer.close()
        box.close()
        server.close()
    assert server.stats()["requests"] == 1 and server.stats()["curve"] is True  # only the box's


def test_bind_beyond_loopback_without_keys_refuses_to_start(detector: Detector, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="beyond loopback and has no CURVE keys"):
        InferenceServer(detector, "tcp://0.0.0.0:*")
    with pytest.raises(ValidationError, match=r"set tiered.server.curve"):
        TieredConfig(server={"bind": "tcp://*:5570"})
    keys = generate_keys(tmp_path / "keys")
    cfg = TieredConfig(server={"bind": "tcp://0.0.0.0:5570", "curve": {
        "server_secret_key": str(keys.server_secret), "authorized_keys": str(keys.authorized_keys)}})
    assert cfg.server.curve is not None  # with keys it may
    config = tmp_path / "edge.yaml"
    config.write_text("site: {name: edge-1, lat: 51.49, lon: 6.73, alt: 30.0}\n")
    result = CliRunner().invoke(main, ["serve-inference", str(config), "--bind", "tcp://0.0.0.0:5570"])
    assert result.exit_code == 2 and "beyond loopback" in result.output, result.output
