"""Batched multi-camera inference: the stream muxer's rules on an injected clock, the muxed detector stage on a
real model (results equal to one call per frame), with the adaptive rate, and in a running box."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from rsu_sdk import Detections, Frame, ObjectList, Product

from rsu.app.muxed_detector import MuxedDetectorStage, batch_plan
from rsu.app.perception import DetectorStage
from rsu.assetfetch.fetch import fetch_all
from rsu.assets.paths import assets_dir
from rsu.config import parse_config
from rsu.config.models import DetectorConfig
from rsu.config.pipeline import AdaptiveRateConfig
from rsu.core.clock import ManualClock
from rsu.inference.detector import Detector
from rsu.inference.muxer import StreamMuxer
from rsu.pipeline.adaptive import AdaptiveRate, RateLimitedStage
from support import Subscriber, running_box, wait_until

MS = 1_000_000
MODEL = "ssd-mobilenetv2-int8"  # real, small, dynamic batch


# -- the muxer's rules (no threads, a manual clock) -------------------------------------------------------

def test_frames_of_cameras_within_the_window_form_one_batch() -> None:
    clock = ManualClock()
    mux: StreamMuxer[str] = StreamMuxer(10 * MS, cameras=["a", "b", "c"])
    mux.offer("a", "a1", clock.monotonic_ns())
    clock.advance(0.003)
    mux.offer("b", "b1", clock.monotonic_ns())
    assert not mux.ready(clock.monotonic_ns()), "c is expected and the window is still open"
    clock.advance(0.004)
    mux.offer("c", "c1", clock.monotonic_ns())
    assert mux.ready(clock.monotonic_ns())
    assert mux.take(clock.monotonic_ns()) == ["a1", "b1", "c1"]
    stats = mux.stats()
    assert stats["batches"] == 1 and stats["full"] == 1 and stats["window_waits"] == 0
    assert stats["mean_batch"] == 3 and stats["first_wait_ms_max"] == 7.0


def test_the_first_frame_never_waits_longer_than_the_window() -> None:
    clock = ManualClock()
    mux: StreamMuxer[str] = StreamMuxer(10 * MS, cameras=["a", "b"])
    t0 = clock.monotonic_ns()
    mux.offer("a", "a1", t0)
    assert mux.deadline_ns() == t0 + 10 * MS
    clock.advance(0.009)
    assert not mux.ready(clock.monotonic_ns()) and mux.take(clock.monotonic_ns()) == []
    clock.advance(0.001)
    assert mux.ready(clock.monotonic_ns())
    assert mux.take(clock.monotonic_ns()) == ["a1"]  # b did not come in time: a goes alone
    stats = mux.stats()
    assert stats["window_waits"] == 1 and stats["first_wait_ms_max"] <= 10.0
    assert mux.deadline_ns() is None and not mux.ready(clock.monotonic_ns())


def test_one_frame_per_camera_per_batch_the_newest() -> None:
    clock = ManualClock()
    mux: StreamMuxer[str] = StreamMuxer(10 * MS, cameras=["a", "b"])
    t0 = clock.monotonic_ns()
    mux.offer("a", "a1", t0)
    clock.advance(0.004)
    assert mux.offer("a", "a2", clock.monotonic_ns()) == "a1"  # shed, counted
    assert mux.deadline_ns() == t0 + 10 * MS, "a newer frame keeps the slot's window"
    mux.offer("b", "b1", clock.monotonic_ns())
    assert mux.take(clock.monotonic_ns()) == ["a2", "b1"]
    assert mux.stats()["superseded"] == 1 and mux.stats()["frames"] == 3


def test_max_batch_and_a_quiet_camera() -> None:
    clock = ManualClock()
    mux: StreamMuxer[str] = StreamMuxer(10 * MS, max_batch=2, active_ns=1000 * MS, cameras=["a", "b", "c"])
    for cam in "abc":
        mux.offer(cam, f"{cam}1", clock.monotonic_ns())
        clock.advance(0.001)
    assert mux.take(clock.monotonic_ns()) == ["a1", "b1"]  # at most max_batch, oldest first
    assert mux.take(clock.monotonic_ns()) == []  # c's window is still open, a and b are active
    clock.advance(0.009)  # c arrived at 2 ms: its window closes at 12 ms
    assert mux.take(clock.monotonic_ns()) == ["c1"]
    clock.advance(2.0)  # c stays quiet for longer than active_ns: batches stop waiting for it
    mux.offer("a", "a2", clock.monotonic_ns())
    mux.offer("b", "b2", clock.monotonic_ns())
    assert mux.take(clock.monotonic_ns()) == ["a2", "b2"]
    assert mux.stats()["batch_sizes"] == {"1": 1, "2": 2}


def test_bad_muxer_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="window_ns"):
        StreamMuxer(0)
    with pytest.raises(ValueError, match="max_batch"):
        StreamMuxer(MS, max_batch=0)


# -- the muxed detector stage on a real model --------------------------------------------------------------

@pytest.fixture(scope="module")
def detector() -> Detector:
    fetch_all(assets_dir())
    return Detector.from_config(DetectorConfig(model=MODEL, providers=["cpu"], threads=1, batch=4))


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    from rsu.modeltools.frames import load_frames

    data = fetch_all(assets_dir()) / "data"
    bus = cv2.imread(str(data / "bus.jpg"))
    return [*load_frames([data / "vtest.avi"], limit=2), bus, cv2.flip(bus, 1)]


class Collected:
    """What a muxed stage emitted, with a condition to wait on."""

    def __init__(self) -> None:
        self.items: list[Product] = []
        self._lock = threading.Lock()

    def __call__(self, product: Product) -> None:
        with self._lock:
            self.items.append(product)

    def count(self) -> int:
        with self._lock:
            return len(self.items)


def frames_of(images: list[np.ndarray], t_ns: int = 1_000_000_000, frame_id: int = 0) -> list[Frame]:
    return [Frame(source=f"cam-{i}", t_event_ns=t_ns, frame_id=frame_id, image=im) for i, im in enumerate(images)]


def muxed(detector: Detector, emit: Collected, cameras: list[str], **kw: Any) -> MuxedDetectorStage:
    plain = DetectorStage(detector)
    return MuxedDetectorStage(plain, plain, emit=emit, cameras=cameras, **kw)


def test_batched_results_equal_one_call_per_frame(detector: Detector, images: list[np.ndarray]) -> None:
    frames = frames_of(images)
    alone = [detector.detect([f])[0] for f in frames]
    assert sum(len(d) for d in alone) > 0
    emitted = Collected()
    stage = muxed(detector, emitted, [f.source for f in frames], window_ms=60_000, max_batch=4)
    stage.open()
    try:
        for f in frames:
            assert stage.process(f) == []  # results come from the batching thread
        wait_until(lambda: emitted.count() == len(frames), 60, "the batch's detections")
    finally:
        stage.close()
    by_source = {d.source: d for d in emitted.items if isinstance(d, Detections)}
    assert [by_source[f.source] for f in frames] == alone
    stats = stage.stats()
    assert stats["batching"]["batches"] == 1 and stats["batching"]["batch_sizes"] == {"4": 1}
    assert stats["frames"] == 4 and stage.histogram.snapshot()[2] == 4


def test_the_stage_closes_a_batch_when_the_injected_clock_passes_the_window(
        detector: Detector, images: list[np.ndarray]) -> None:
    clock = ManualClock()
    emitted = Collected()
    stage = muxed(detector, emitted, ["cam-0", "cam-1"], window_ms=10, max_batch=2, clock=clock)
    stage.open()
    try:
        stage.process(frames_of(images[:1])[0])
        assert stage.stats()["batching"]["batches"] == 0  # cam-1 is expected: the window is open
        clock.advance(0.010)
        wait_until(lambda: emitted.count() == 1, 60, "the lone frame's detections after the window")
    finally:
        stage.close()
    batching = stage.stats()["batching"]
    assert batching["window_waits"] == 1 and batching["first_wait_ms_max"] == 10.0


def test_finish_emits_the_batch_being_formed(detector: Detector, images: list[np.ndarray]) -> None:
    emitted = Collected()
    stage = muxed(detector, emitted, ["cam-0", "cam-1", "cam-2"], window_ms=60_000, max_batch=3)
    stage.open()
    for f in frames_of(images[:2]):
        stage.process(f)
    assert stage.finish(True) == []
    assert sorted(d.source for d in emitted.items) == ["cam-0", "cam-1"]
    assert stage.stats()["batching"]["flushed"] == 1
    late = frames_of(images[:1], frame_id=1)[0]  # after shutdown a frame runs at once, on the caller's thread
    assert [d.frame_id for d in stage.process(late)] == [1]


def test_a_camera_the_adaptive_rate_skips_is_not_in_the_batch(detector: Detector, images: list[np.ndarray]) -> None:
    emitted = Collected()
    stage = muxed(detector, emitted, ["cam-0", "cam-1"], window_ms=60_000, max_batch=2)
    limited = RateLimitedStage(stage, AdaptiveRate(AdaptiveRateConfig(quiet_hz=5.0, busy_hz=10.0)))
    limited.open()
    try:
        first = frames_of(images[:2], t_ns=1_000_000_000)
        for f in first:
            limited.process(f)
        wait_until(lambda: emitted.count() == 2, 60, "the first batch")
        # at 5 Hz a camera is due every 200 ms of event time: cam-0 at +100 ms is skipped, cam-1 at +200 ms is
        # admitted; the skipped frame never reaches the muxer, so the next batch holds cam-1's frame only
        skipped = Frame(source="cam-0", t_event_ns=1_100_000_000, frame_id=1, image=images[0])
        admitted = Frame(source="cam-1", t_event_ns=1_200_000_000, frame_id=1, image=images[1])
        assert limited.process(skipped) == [] and limited.process(admitted) == []
        limited.observe(ObjectList(source="fusion", t_event_ns=1_200_000_000))  # density only: observed
        assert ObjectList not in limited.handles and ObjectList in limited.observes
        stage.close()  # flush: cam-0 never came, so the pending batch is cam-1's frame alone
    finally:
        stage.close()
    assert [(d.source, d.frame_id) for d in emitted.items[2:]] == [("cam-1", 1)]
    stats = limited.stats()
    assert stats["rate"]["skipped"] == 1 and stats["rate"]["admitted"] == 3
    assert stats["batching"]["frames"] == 3 and stats["batching"]["batch_sizes"] == {"1": 1, "2": 1}


def test_the_tiered_offload_runs_per_frame_after_the_batch(detector: Detector, images: list[np.ndarray]) -> None:
    from rsu.config.tiered import OffloadPolicyConfig, TieredConfig
    from rsu.tiered.server import InferenceServer
    from rsu.tiered.stage import TieredDetectorStage

    edge = Detector.from_config(DetectorConfig(model=MODEL, providers=["cpu"], threads=1))
    server = InferenceServer(edge, "tcp://127.0.0.1:*").start()
    plain = DetectorStage(detector)
    tiered = TieredDetectorStage(plain, TieredConfig(endpoint=server.endpoint, deadline_ms=10_000.0,
                                                     offload=OffloadPolicyConfig(every_frame=True)))
    emitted = Collected()
    stage = MuxedDetectorStage(plain, tiered, window_ms=60_000, max_batch=2, emit=emitted, cameras=["cam-0", "cam-1"])
    try:
        assert tiered.client.wait_connected(30.0)
        stage.open()
        calls = detector.stats["batches"]
        for f in frames_of(images[:2]):
            stage.process(f)
        wait_until(lambda: emitted.count() == 2, 120, "both frames' detections through the offload")
    finally:
        stage.close()
        tiered.close()
        server.close()
    assert detector.stats["batches"] == calls + 1  # the local model ran once for both cameras
    assert tiered.counts["remote"] + tiered.counts["fallback"] == 2 and plain.frames == 2
    assert sorted(d.source for d in emitted.items) == ["cam-0", "cam-1"]


# -- when a box batches ------------------------------------------------------------------------------------

def test_batch_plan_and_the_fixed_batch_fallback(caplog: pytest.LogCaptureFixture) -> None:
    cuda = "CUDAExecutionProvider"
    assert batch_plan(DetectorConfig(), None, 4, "m", cuda) == (10.0, 4)  # on by default on an accelerator
    assert batch_plan(DetectorConfig(), None, 4, "m") is None  # ... off on the CPU, where it does not pay
    assert batch_plan(DetectorConfig(batch_window_ms=5), None, 4, "m") == (5.0, 4)  # unless asked for
    assert batch_plan(DetectorConfig(max_batch=2), None, 4, "m", cuda) == (10.0, 2)
    assert batch_plan(DetectorConfig(max_batch=2), None, 4, "m") == (10.0, 2)  # max_batch asks for it too
    assert batch_plan(DetectorConfig(batch_window_ms=5, max_batch=8), None, 3, "m") == (5.0, 3)
    assert batch_plan(DetectorConfig(), None, 1, "m", cuda) is None  # one camera: nothing to batch
    assert batch_plan(DetectorConfig(batch_window_ms=0), None, 4, "m", cuda) is None  # off: one call per frame
    assert batch_plan(DetectorConfig(max_batch=1), None, 4, "m", cuda) is None
    with caplog.at_level(logging.INFO, logger="rsu.app.muxed_detector"):
        assert batch_plan(DetectorConfig(batch_window_ms=20), 1, 3, "fixed.onnx") is None
    record = caplog.records[-1]
    assert record.levelno == logging.WARNING and "fixed.onnx has a fixed batch of 1" in record.getMessage()
    assert "3 cameras run one inference call each" in record.getMessage()


def test_config_keys_and_errors() -> None:
    cfg = DetectorConfig()
    assert (cfg.batch, cfg.batch_window_ms, cfg.max_batch) == (1, None, None)
    base = {"version": 1, "site": {"name": "s", "lat": 0, "lon": 0}}
    with pytest.raises(Exception, match=r"models\.detector\.batch_window_ms"):
        parse_config({**base, "models": {"detector": {"batch_window_ms": -1}}})
    with pytest.raises(Exception, match=r"models\.detector\.max_batch"):
        parse_config({**base, "models": {"detector": {"max_batch": 0}}})


def test_a_box_with_two_cameras_batches_them_and_publishes_both(tmp_path: Path) -> None:
    video = fetch_all(assets_dir()) / "data" / "vtest.avi"
    raw = {
        "version": 1, "site": {"name": "mux", "lat": 48.1, "lon": 11.5},
        "sources": [{"id": f"cam-{c}", "type": "camera", "url": str(video), "loop": True, "fps": 10}
                    for c in "ab"],
        # a window longer than the frame period: a batch waits for the other camera's next frame
        "models": {"detector": {"model": MODEL, "providers": ["cpu"], "threads": 1, "batch_window_ms": 250}},
        "pipeline": {"checkpoint": {"dir": str(tmp_path / "ckpt")}},
        "publish": {"zmq": {"endpoint": "tcp://127.0.0.1:*"}},
    }
    with running_box(raw, tmp_path) as built, Subscriber(built.endpoint, "rsu/mux/detections") as sub:
        def sources() -> set[str]:
            return {p["source"] for p in sub.of("rsu.detections/1")}

        wait_until(lambda: sources() == {"cam-a", "cam-b"}, 120, "detections of both cameras")

        def batching() -> dict[str, Any]:
            stats = built.box.summary()["stage_stats"]["detector"]
            return stats["batching"] if stats["batching"]["batch_sizes"].get("2") else {}

        seen = wait_until(batching, 120, "a batch of both cameras' frames")
    assert seen["max_batch"] == 2 and seen["batches"] >= 1 and seen["errors"] == 0


# -- rsu bench detector --streams, at toy scale ------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_yolo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A random-weight YOLOv8n made input-dependent, exported at 160 with a dynamic batch and with a fixed one."""
    from rsu.modeltools.env import have_tools

    if not have_tools():
        pytest.skip("tools extra not installed (pip install 'rsu[tools]')")
    import os

    folder = tmp_path_factory.mktemp("tiny-yolo")
    os.environ.setdefault("YOLO_CONFIG_DIR", str(folder / "ultralytics-settings"))
    from rsu.inference.preprocess import InputSpec
    from rsu.modeltools.calibrate import make_synthetic
    from rsu.modeltools.export import export_model
    from rsu.modeltools.frames import bundled_images
    from rsu.modeltools.prune import load_model
    from rsu.modeltools.quantize import calibration_batches

    yolo = load_model("yolov8n.yaml")
    make_synthetic(yolo.model, calibration_batches(bundled_images(), InputSpec(size=(160, 160)), limit=2))
    return {"dynamic": export_model(yolo, folder / "dynamic.onnx", imgsz=160, dynamic=True),
            "fixed": export_model(yolo, folder / "fixed.onnx", imgsz=160)}


@pytest.mark.tools
def test_bench_detector_streams_reports_its_keys(tiny_yolo: dict[str, Path]) -> None:
    import json

    from click.testing import CliRunner

    from rsu.cli import main

    res = CliRunner().invoke(main, ["bench", "detector", "--streams", "3", "--model", str(tiny_yolo["dynamic"]),
                                    "--quick", "--json", "--stills"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    for key in ("streams", "batched_fps", "ultralytics_fps", "speedup_vs_ultralytics", "camera_p99_ms",
                "unbatched_fps", "fps_by_max_batch", "batch_sizes", "threads", "model", "variants"):
        assert out[key] is not None, key
    assert out["streams"] == 3 and set(out["camera_p99_ms"]) == {"cam-0", "cam-1", "cam-2"}
    assert out["streams_content"] == "video and portrait stills"
    assert out["speedup_vs_ultralytics"] == pytest.approx(out["batched_fps"] / out["ultralytics_fps"], rel=1e-2)
    assert out["batch_sizes"] == {"3": out["blocks"] * out["rounds_per_block"] + 2}  # one batch per round
    assert set(out["fps_by_max_batch"]) == {"2", "3"} and out["input"].startswith("160 long side")
    assert "160x128" in out["input"] and "128x160" in out["input"]  # landscape video, portrait stills: rect inputs
    assert out["model_variant"] == "model" and set(out["variants"]) == {"model"}
    assert out["variants"]["model"]["batched_fps"] == out["batched_fps"]


@pytest.mark.tools
def test_bench_detector_streams_usage_errors(tiny_yolo: dict[str, Path]) -> None:
    from click.testing import CliRunner

    from rsu.cli import main

    runner = CliRunner()
    fixed = runner.invoke(main, ["bench", "detector", "--streams", "2", "--model", str(tiny_yolo["fixed"])])
    assert fixed.exit_code == 2 and "fixed at 1" in fixed.output and "Traceback" not in fixed.output
    alone = runner.invoke(main, ["bench", "detector", "--model", str(tiny_yolo["dynamic"])])
    assert alone.exit_code == 2 and "--model needs --streams" in alone.output
    other = runner.invoke(main, ["bench", "lstm", "--streams", "2"])
    assert other.exit_code == 2 and "detector benchmark only" in other.output
    stills = runner.invoke(main, ["bench", "detector", "--stills"])
    assert stills.exit_code == 2 and "--stills needs --streams" in stills.output
