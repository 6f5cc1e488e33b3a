"""``rsu bench detector --streams N``: N camera streams of real frames through the box's batched detector path
(:class:`rsu.app.batching.MuxedDetectorStage`: one model call per batch of cameras) against the ultralytics
predictor looping over the same N streams one frame at a time, on the same ONNX model with the same ONNX Runtime
session options (threads, no spinning). ``unbatched_fps`` adds rsu's own detector one call per frame (what the
batching itself adds).

Each round every camera delivers its next frame at once and the round ends when each has its detections (a box
whose model is the bottleneck: frames of all cameras are waiting whenever a batch ends). A camera's latency is
from its frame's arrival to its detections. The cases run in interleaved blocks of rounds, in a rotating order,
so machine load hits them alike; frames/s are medians over blocks, latencies p99 over all rounds.

Streams: frames of ``vtest.avi`` (different stretches, mirrored for odd cameras) and variants of ``bus.jpg``
(mirrored, brightened, shifted). The model: a dynamic-batch ONNX of the pruned YOLOv5s(u) from
:func:`rsu.modeltools.zoo.build_detector_set` (built once into ``$RSU_CACHE_DIR/bench/detector``; the tools
extra), or ``--model FILE`` (an ultralytics ONNX export with a dynamic batch). Threads: ``$RSU_BENCH_THREADS``
(default: cores, at most 4).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from rsu.core.errors import ModelError

CONF, IOU, IMGSZ = 0.25, 0.45, 640  # IMGSZ: where the model does not say (ultralytics metadata imgsz)
DYNAMIC = "yolov5s_pruned_fp32_dynamic.onnx"
USER_ERRORS = (ModelError,)
"""What a bad ``--model`` raises (the command reports it as a usage error)."""


def _progress(msg: str) -> None:
    print(f"[bench detector --streams] {msg}", file=sys.stderr, flush=True)


def default_model() -> Path:
    """The dynamic-batch pruned YOLOv5s ONNX, built into the bench cache on first use."""
    from rsu.modeltools.env import cache_dir, have_tools

    folder = cache_dir() / "bench" / "detector"
    out = folder / DYNAMIC
    if out.is_file():
        return out
    if not have_tools():
        raise ModuleNotFoundError("first run builds the model: pip install 'rsu[tools]'", name="torch")
    from rsu.modeltools.export import export
    from rsu.modeltools.zoo import build_detector_set

    _progress(f"first run: building the pruned YOLOv5s into {folder}")
    models = build_detector_set(folder, progress=_progress)
    export(folder / models["pruned_pt"], out.with_suffix(".part.onnx"), imgsz=IMGSZ, dynamic=True,
           progress=_progress)
    out.with_suffix(".part.onnx").replace(out)
    return out


def camera_streams(streams: int, frames: int) -> list[list[np.ndarray]]:
    """``streams`` lists of ``frames`` real BGR frames each: vtest.avi stretches and bus.jpg variants."""
    from rsu.assets.paths import data_file
    from rsu.modeltools.frames import load_frames

    video = load_frames([data_file("data/vtest.avi")], limit=max(2, (streams + 1) // 2) * frames)
    bus = cv2.imread(str(data_file("data/bus.jpg")))
    out: list[list[np.ndarray]] = []
    for cam in range(streams):
        if cam % 2 == 0:  # a stretch of the video of its own; every other one mirrored
            k = cam // 2
            clip = [video[(k + i * max(1, (streams + 1) // 2)) % len(video)] for i in range(frames)]
            out.append([cv2.flip(f, 1) if k % 2 else f for f in clip])
        else:  # bus.jpg: mirrored, brighter, shifted a little further each frame
            base = cv2.flip(bus, 1) if (cam // 2) % 2 else bus
            out.append([np.roll(cv2.convertScaleAbs(base, alpha=1.0, beta=8 * i), 12 * i, axis=1)
                        for i in range(frames)])
    return out


def model_imgsz(path: Path) -> int:
    """The square input side an ultralytics export records in its metadata (``imgsz``), else 640."""
    import ast

    import onnx

    try:
        meta = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    except Exception as exc:  # noqa: BLE001 - onnx raises protobuf's own errors for a file that is not ONNX
        raise ModelError(f"{path}: not a readable ONNX model ({type(exc).__name__})") from None
    try:
        size = ast.literal_eval(meta.get("imgsz", "None"))
    except (ValueError, SyntaxError):
        return IMGSZ
    return int(size[0]) if isinstance(size, (list, tuple)) and size else int(size) if isinstance(size, int) else IMGSZ


def ultralytics_predictor(path: Path, threads: int, imgsz: int, rect: bool = True) -> Callable[[np.ndarray], int]:
    """ultralytics' predictor on ``path`` with its ONNX Runtime session replaced by one with rsu's options;
    returns a function that detects one frame and returns the number of boxes. ``rect``: its own default for a
    dynamic-shape model (the letterbox pads only to a multiple of the stride, fewer pixels than a square);
    False: the same square input as rsu's detector."""
    from rsu.inference.session import make_session
    from rsu.modeltools.env import import_ultralytics

    ul = import_ultralytics()
    yolo = ul.YOLO(str(path), task="detect")
    kwargs = {"imgsz": imgsz, "conf": CONF, "iou": IOU, "device": "cpu", "verbose": False, "rect": rect}
    yolo.predict(np.zeros((imgsz, imgsz, 3), np.uint8), **kwargs)  # builds the predictor
    backend = getattr(getattr(yolo.predictor, "model", None), "backend", None)
    if backend is None or not hasattr(backend, "session"):
        raise RuntimeError("cannot reach the ultralytics predictor's ONNX Runtime session (ultralytics changed)")
    backend.session = make_session(path, ["cpu"], threads=threads, allow_spinning=False)
    return lambda frame: len(yolo.predict(frame, **kwargs)[0].boxes)


class _Batched:
    """The box's batched detector path, fed one round (a frame per camera) at a time."""

    def __init__(self, detector: Any, cameras: list[str], window_ms: float, max_batch: int) -> None:
        from rsu.app.batching import MuxedDetectorStage
        from rsu.app.perception import DetectorStage

        plain = DetectorStage(detector)
        self._cond = threading.Condition()
        self._done: dict[str, float] = {}
        self._boxes = 0
        self.stage = MuxedDetectorStage(plain, plain, window_ms=window_ms, max_batch=max_batch,
                                        emit=self._emit, cameras=cameras)
        self.stage.open()

    def _emit(self, product: Any) -> None:
        with self._cond:
            self._done[product.source] = time.perf_counter()
            self._boxes += len(product)
            self._cond.notify_all()

    def round(self, frames: list[Any]) -> tuple[dict[str, float], int]:
        """Latency (ms) per camera and the boxes found, for one frame per camera."""
        with self._cond:
            self._done, self._boxes = {}, 0
        t0 = {}
        for f in frames:
            t0[f.source] = time.perf_counter()
            self.stage.process(f)
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._done) == len(frames), timeout=600):
                raise RuntimeError("the batched detector stopped answering")
            return {k: (v - t0[k]) * 1e3 for k, v in self._done.items()}, self._boxes

    def close(self) -> None:
        self.stage.close()


def run(quick: bool = False, streams: int = 4, model: str | Path | None = None,
        window_ms: float = 10.0) -> dict[str, Any]:
    """Run the benchmark; returns the JSON-ready result (keys in DESIGN.md, benchmark JSON)."""
    from rsu_sdk import Frame

    from rsu.config.models import DetectorConfig
    from rsu.inference.detector import Detector

    if streams < 1:
        raise ValueError(f"--streams: expected >= 1, got {streams}")
    threads = int(os.environ.get("RSU_BENCH_THREADS", min(os.cpu_count() or 1, 4)))
    path = Path(model) if model is not None else default_model()
    imgsz = model_imgsz(path)
    cfg = DetectorConfig(model=str(path), kind="yolov8", providers=["cpu"], conf_threshold=CONF, iou_threshold=IOU,
                         input_size=imgsz, threads=threads, allow_spinning=False, batch=streams)
    detector = Detector.from_config(cfg)
    if detector.backend.fixed_batch is not None:
        raise ModelError(f"{path}: the model's batch is fixed at {detector.backend.fixed_batch}; batching needs "
                         "a dynamic batch (rsu model export --dynamic)")
    per_stream = 2 if quick else 8
    images = camera_streams(streams, per_stream)
    cameras = [f"cam-{i}" for i in range(streams)]
    muxed = {streams: _Batched(detector, cameras, window_ms, streams)}
    if streams > 2:
        muxed[2] = _Batched(detector, cameras, window_ms, 2)

    def frames_of(r: int) -> list[Any]:
        return [Frame(source=c, t_event_ns=r, frame_id=r, image=images[i][r % per_stream])
                for i, c in enumerate(cameras)]

    def looped(detect: Callable[[int, int], int]) -> Callable[[int], tuple[dict[str, float], int]]:
        def one_round(r: int) -> tuple[dict[str, float], int]:  # one frame after another over the streams
            t0, lat, boxes = time.perf_counter(), {}, 0
            for i, c in enumerate(cameras):
                boxes += detect(i, r)
                lat[c] = (time.perf_counter() - t0) * 1e3
            return lat, boxes
        return one_round

    ultra = ultralytics_predictor(path, threads, imgsz)
    square = ultralytics_predictor(path, threads, imgsz, rect=False)
    cases: dict[str, Callable[[int], tuple[dict[str, float], int]]] = {
        **{f"batched_{n}": (lambda r, b=b: b.round(frames_of(r))) for n, b in muxed.items()},
        "unbatched": looped(lambda i, r: len(detector.detect([frames_of(r)[i]])[0])),
        "ultralytics": looped(lambda i, r: ultra(images[i][r % per_stream])),
        "ultralytics_square": looped(lambda i, r: square(images[i][r % per_stream])),
    }
    blocks, rounds = (2, 2) if quick else (8, per_stream)
    fps: dict[str, list[float]] = {k: [] for k in cases}
    latency: dict[str, dict[str, list[float]]] = {k: {c: [] for c in cameras} for k in cases}
    boxes: dict[str, int] = dict.fromkeys(cases, 0)
    try:
        for fn in cases.values():  # warm-up
            fn(0)
        order = list(cases)
        _progress(f"{streams} streams, {len(cases)} cases x {blocks} blocks of {rounds} rounds, interleaved "
                  f"({threads} threads, {path.name})")
        for b in range(blocks):
            for key in order[b % len(order):] + order[:b % len(order)]:
                t0 = time.perf_counter()
                for r in range(rounds):
                    lat, n = cases[key](b * rounds + r)
                    boxes[key] += n
                    for c, ms in lat.items():
                        latency[key][c].append(ms)
                fps[key].append(streams * rounds / (time.perf_counter() - t0))
            _progress(f"block {b + 1}/{blocks}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in fps.items()) + " fps")
    finally:
        for m in muxed.values():
            m.close()
    med = {k: float(np.median(v)) for k, v in fps.items()}
    top = f"batched_{streams}"
    batching = muxed[streams].stage.stats()["batching"]

    def p99(key: str) -> dict[str, float]:
        return {c: round(float(np.percentile(v, 99)), 2) for c, v in latency[key].items()}

    return {
        "streams": streams,
        "batched_fps": round(med[top], 3),
        "ultralytics_fps": round(med["ultralytics"], 3),
        "speedup_vs_ultralytics": round(med[top] / med["ultralytics"], 4),
        "camera_p99_ms": p99(top),
        "ultralytics_camera_p99_ms": p99("ultralytics"),
        "ultralytics_square_fps": round(med["ultralytics_square"], 3),
        "speedup_vs_ultralytics_square": round(med[top] / med["ultralytics_square"], 4),
        "unbatched_fps": round(med["unbatched"], 3),
        "batched_over_unbatched": round(med[top] / med["unbatched"], 4),
        "unbatched_camera_p99_ms": p99("unbatched"),
        "fps_by_max_batch": {str(n): round(med[f"batched_{n}"], 3) for n in sorted(muxed)},
        "camera_p99_ms_by_max_batch": {str(n): p99(f"batched_{n}") for n in sorted(muxed)},
        "boxes_per_frame": {k: round(v / (streams * blocks * rounds), 2) for k, v in boxes.items()},
        "batch_sizes": batching["batch_sizes"],
        "mean_batch": batching["mean_batch"],
        "window_ms": window_ms,
        "threads": threads,
        "model": str(path) if model is not None else f"{DYNAMIC} (pruned YOLOv5su, synthetic weights, dynamic batch)",
        "input": f"{imgsz}x{imgsz} letterboxed (ultralytics: rectangular, its default); streams: vtest.avi "
                 "stretches and bus.jpg variants",
        "blocks": blocks,
        "rounds_per_block": rounds,
        "fps_per_block": {k: [round(x, 3) for x in v] for k, v in fps.items()},
        "notes": [
            "every camera's frame arrives at the start of a round; the round ends when all have detections",
            "batched_fps: all streams in one model call (max_batch = streams); fps_by_max_batch: smaller batches",
            "ultralytics: its predictor with the ONNX Runtime session swapped for one with rsu's options (same "
            "model, threads, no spinning), one frame after another over the streams; as shipped it letterboxes a "
            "dynamic-shape model to a rectangle (fewer pixels); ultralytics_square: the same square input as rsu",
            "speed figures only: the default model has synthetic weights",
        ],
    }
