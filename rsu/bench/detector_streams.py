"""``rsu bench detector --streams N``: N camera streams of real frames through the box's batched detector path
(:class:`rsu.app.muxed_detector.MuxedDetectorStage`: one model call per batch of cameras) against the ultralytics
predictor looping over the same N streams one frame at a time, on the same ONNX model with the same input and
the same ONNX Runtime session options (threads, no spinning). ``unbatched_fps`` adds rsu's own detector one call
per frame (what the batching itself adds).

Each round every camera delivers its next frame at once and the round ends when each has its detections (a box
whose model is the bottleneck: frames of all cameras are waiting whenever a batch ends). A camera's latency is
from its frame's arrival to its detections. The cases run in interleaved blocks of rounds, in a rotating order,
so machine load hits them alike; a block has as many rounds as the slowest case needs for about 2 s; frames/s
are medians over blocks, latencies p99 over all rounds.

Streams: frames of ``vtest.avi`` (a different stretch per camera, mirrored for odd cameras: a box's landscape
road cameras); ``--stills`` makes every other camera a portrait ``bus.jpg`` variant (mirrored, brightened,
shifted), so a round holds two input shapes and the batched path makes one call per shape. Both sides letterbox each frame to the smallest stride-aligned rectangle (the
model has a dynamic input size; ultralytics' default, rsu's ``resize: auto``). The model: the project's distilled
student ``yolov5s-vtest`` at its own input size, INT8 (the contract keys) and FP32 (``variants``), with a dynamic
batch and input size (re-exported from its trained checkpoint when the committed file is fixed-shape, see
:mod:`rsu.bench.bench_models`); else a dynamic export of the pruned YOLOv5s(u) from
:func:`rsu.modeltools.zoo.build_detector_set` (built once into ``$RSU_CACHE_DIR/bench/detector``; the tools
extra); or ``--model FILE`` (an ultralytics ONNX export with a dynamic batch). Threads: ``$RSU_BENCH_THREADS``
(default: cores, at most 4).
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from rsu.bench.bench_models import BenchModel
from rsu.core.errors import ModelError

CONF, IOU, IMGSZ = 0.25, 0.45, 640  # IMGSZ: where the model does not say (ultralytics metadata imgsz)
DYNAMIC = "yolov5s_pruned_fp32_dynamic.onnx"
BLOCKS, BLOCK_S = 10, 2.0
"""Blocks per case, and about how long one lasts (rounds per block: enough for the slowest case to fill it)."""
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


def camera_streams(streams: int, frames: int, stills: bool = False) -> list[list[np.ndarray]]:
    """``streams`` lists of ``frames`` real BGR frames each: every camera a stretch of vtest.avi of its own (odd
    ones mirrored), as a box's landscape road cameras; with ``stills`` every other camera is a portrait bus.jpg
    variant instead (two input shapes in a round: one model call per shape)."""
    from rsu.assets.paths import data_file
    from rsu.modeltools.frames import load_frames

    videos = streams if not stills else max(1, (streams + 1) // 2)
    video = load_frames([data_file("data/vtest.avi")], limit=max(2, videos) * frames)
    bus = cv2.imread(str(data_file("data/bus.jpg")))
    out: list[list[np.ndarray]] = []
    for cam in range(streams):
        if not stills or cam % 2 == 0:  # a stretch of the video of its own; every other one mirrored
            k = cam if not stills else cam // 2
            clip = [video[(k + i * max(1, videos)) % len(video)] for i in range(frames)]
            out.append([cv2.flip(f, 1) if k % 2 else f for f in clip])
        else:  # bus.jpg: mirrored, brighter, shifted a little further each frame
            base = cv2.flip(bus, 1) if (cam // 2) % 2 else bus
            out.append([np.roll(cv2.convertScaleAbs(base, alpha=1.0, beta=8 * i), 12 * i, axis=1)
                        for i in range(frames)])
    return out


def model_imgsz(path: Path) -> int:
    """The square input side an ultralytics export records in its metadata (``imgsz``), else 640."""
    from rsu.bench.bench_models import metadata_imgsz, onnx_input

    return metadata_imgsz(onnx_input(path)[1], IMGSZ)


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
        from rsu.app.muxed_detector import MuxedDetectorStage
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


Case = Callable[[int], tuple[dict[str, float], int]]


def _models(model: str | Path | None, imgsz: int | None) -> tuple[dict[str, BenchModel], str, str | None]:
    """The variants to measure, the one the contract keys describe, and why the student is not used (if not)."""
    from rsu.bench.bench_models import BenchModel, student_models

    if model is not None:
        path = Path(model)
        return {"model": BenchModel(path, imgsz or model_imgsz(path), str(path))}, "model", None
    found, why = student_models(_progress)
    if found:
        if imgsz is not None:
            found = {k: BenchModel(m.path, imgsz, m.about) for k, m in found.items()}
        return found, "int8" if "int8" in found else next(iter(found)), None
    path = default_model()
    zoo = BenchModel(path, imgsz or model_imgsz(path), f"{DYNAMIC} (pruned YOLOv5su, synthetic weights, dynamic "
                     "batch and input size)")
    return {"zoo": zoo}, "zoo", why


def _cases(key: str, bench: BenchModel, streams: int, threads: int, window_ms: float, images: list[list[np.ndarray]],
           per_stream: int, full: bool) -> tuple[dict[str, Case], dict[int, _Batched], Any]:
    """The cases of one model: rsu batched (max_batch = streams; with ``full`` also 2, and one call per frame)
    and the ultralytics predictor, one frame after another."""
    from rsu_sdk import Frame

    from rsu.config.models import DetectorConfig
    from rsu.inference.detector import Detector

    cfg = DetectorConfig(model=str(bench.path), kind="yolov8", providers=["cpu"], conf_threshold=CONF,
                         iou_threshold=IOU, input_size=bench.imgsz, threads=threads, allow_spinning=False,
                         batch=streams)
    detector = Detector.from_config(cfg)
    if detector.backend.fixed_batch is not None:
        raise ModelError(f"{bench.path}: the model's batch is fixed at {detector.backend.fixed_batch}; batching needs "
                         "a dynamic batch (rsu model export --dynamic)")
    cameras = [f"cam-{i}" for i in range(streams)]
    muxed = {streams: _Batched(detector, cameras, window_ms, streams)}
    if full and streams > 2:
        muxed[2] = _Batched(detector, cameras, window_ms, 2)

    def frames_of(r: int) -> list[Any]:
        return [Frame(source=c, t_event_ns=r, frame_id=r, image=images[i][r % per_stream])
                for i, c in enumerate(cameras)]

    def looped(detect: Callable[[int, int], int]) -> Case:
        def one_round(r: int) -> tuple[dict[str, float], int]:  # one frame after another over the streams
            t0, lat, boxes = time.perf_counter(), {}, 0
            for i, c in enumerate(cameras):
                boxes += detect(i, r)
                lat[c] = (time.perf_counter() - t0) * 1e3
            return lat, boxes
        return one_round

    ultra = ultralytics_predictor(bench.path, threads, bench.imgsz)
    cases: dict[str, Case] = {f"{key}:batched_{n}": (lambda r, b=b: b.round(frames_of(r))) for n, b in muxed.items()}
    if full:
        cases[f"{key}:unbatched"] = looped(lambda i, r: len(detector.detect([frames_of(r)[i]])[0]))
    cases[f"{key}:ultralytics"] = looped(lambda i, r: ultra(images[i][r % per_stream]))
    return cases, muxed, detector


def run(quick: bool = False, streams: int = 4, model: str | Path | None = None,
        window_ms: float = 10.0, imgsz: int | None = None, stills: bool = False) -> dict[str, Any]:
    """Run the benchmark; returns the JSON-ready result (keys in DESIGN.md, benchmark JSON).

    :param imgsz: the input's long side; None: the model's own (its metadata ``imgsz``).
    :param stills: every other camera shows portrait stills (see :func:`camera_streams`).
    """
    from rsu.inference.preprocess import input_shape

    if streams < 1:
        raise ValueError(f"--streams: expected >= 1, got {streams}")
    threads = int(os.environ.get("RSU_BENCH_THREADS", min(os.cpu_count() or 1, 4)))
    models, main, why_not_student = _models(model, imgsz)
    per_stream = 2 if quick else 8
    images = camera_streams(streams, per_stream, stills=stills)
    cases: dict[str, Case] = {}
    muxes: dict[str, dict[int, _Batched]] = {}
    detectors: dict[str, Any] = {}
    try:
        for key, bench in models.items():
            got, muxes[key], detectors[key] = _cases(key, bench, streams, threads, window_ms, images, per_stream,
                                                     full=key == main)
            cases.update(got)
        fps: dict[str, list[float]] = {k: [] for k in cases}
        latency: dict[str, dict[str, list[float]]] = {k: {} for k in cases}
        boxes: dict[str, int] = dict.fromkeys(cases, 0)
        calls: dict[str, int] = dict.fromkeys(cases, 0)
        slowest = 0.0
        for fn in cases.values():  # warm-up, then one timed round: how many rounds fill a block
            fn(0)
            t0 = time.perf_counter()
            fn(1)
            slowest = max(slowest, time.perf_counter() - t0)
        blocks, rounds = (2, 2) if quick else (BLOCKS, int(min(64, max(per_stream, math.ceil(BLOCK_S / slowest)))))
        load = [round(os.getloadavg()[0], 2)]
        order = list(cases)
        _progress(f"{streams} streams, {len(cases)} cases x {blocks} blocks of {rounds} rounds, interleaved "
                  f"({threads} threads; {', '.join(f'{k}: {m.path.name} at {m.imgsz}' for k, m in models.items())})")
        for b in range(blocks):
            for key in order[b % len(order):] + order[:b % len(order)]:
                det = detectors[key.split(":")[0]]
                calls0, t0 = det.stats["batches"], time.perf_counter()
                for r in range(rounds):
                    lat, n = cases[key](b * rounds + r)
                    boxes[key] += n
                    for c, ms in lat.items():
                        latency[key].setdefault(c, []).append(ms)
                fps[key].append(streams * rounds / (time.perf_counter() - t0))
                calls[key] += det.stats["batches"] - calls0
            _progress(f"block {b + 1}/{blocks}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in fps.items()) + " fps")
    finally:
        for mux in muxes.values():
            for m in mux.values():
                m.close()
    med = {k: float(np.median(v)) for k, v in fps.items()}

    def p99(key: str) -> dict[str, float]:
        return {c: round(float(np.percentile(v, 99)), 2) for c, v in latency[key].items()}

    frames_total = streams * blocks * rounds
    shapes = sorted({input_shape((im.shape[1], im.shape[0]), detectors[main].spec) for cam in images for im in cam})
    variants = {}
    for key, bench in models.items():
        top = f"{key}:batched_{streams}"
        variants[key] = {
            "model": bench.about, "imgsz": bench.imgsz,
            "batched_fps": round(med[top], 3), "ultralytics_fps": round(med[f"{key}:ultralytics"], 3),
            "speedup_vs_ultralytics": round(med[top] / med[f"{key}:ultralytics"], 4),
            "camera_p99_ms": p99(top), "ultralytics_camera_p99_ms": p99(f"{key}:ultralytics"),
            "boxes_per_frame": round(boxes[top] / frames_total, 2),
            "ultralytics_boxes_per_frame": round(boxes[f"{key}:ultralytics"] / frames_total, 2),
        }
    m, top = variants[main], f"{main}:batched_{streams}"
    batching = muxes[main][streams].stage.stats()["batching"]
    load.append(round(os.getloadavg()[0], 2))
    return {
        "streams": streams,
        "streams_content": "video and portrait stills" if stills else "video",
        "batched_fps": m["batched_fps"],
        "ultralytics_fps": m["ultralytics_fps"],
        "speedup_vs_ultralytics": m["speedup_vs_ultralytics"],
        "camera_p99_ms": m["camera_p99_ms"],
        "ultralytics_camera_p99_ms": m["ultralytics_camera_p99_ms"],
        "model": m["model"],
        "model_variant": main,
        "student_not_used": why_not_student,
        "variants": variants,
        "unbatched_fps": round(med[f"{main}:unbatched"], 3),
        "batched_over_unbatched": round(med[top] / med[f"{main}:unbatched"], 4),
        "unbatched_camera_p99_ms": p99(f"{main}:unbatched"),
        "fps_by_max_batch": {str(n): round(med[f"{main}:batched_{n}"], 3) for n in sorted(muxes[main])},
        "camera_p99_ms_by_max_batch": {str(n): p99(f"{main}:batched_{n}") for n in sorted(muxes[main])},
        "boxes_per_frame": {k: round(v / frames_total, 2) for k, v in boxes.items()},
        "batch_sizes": batching["batch_sizes"],
        "mean_batch": batching["mean_batch"],
        "model_calls_per_round": {k: round(v / (blocks * rounds), 2) for k, v in calls.items()
                                  if not k.endswith(":ultralytics")},
        "load_average_1min": {"start": load[0], "end": load[1]},
        "window_ms": window_ms,
        "threads": threads,
        "input": f"{models[main].imgsz} long side, letterboxed to the stride-aligned rectangle (rect: "
                 f"{', '.join(f'{w}x{h}' for w, h in shapes)}), as ultralytics does; streams: vtest.avi stretches "
                 "and bus.jpg variants",
        "blocks": blocks,
        "rounds_per_block": rounds,
        "fps_per_block": {k: [round(x, 3) for x in v] for k, v in fps.items()},
        "notes": [
            "every camera's frame arrives at the start of a round; the round ends when all have detections",
            "batched_fps: all streams in one batch (max_batch = streams); frames whose rect inputs differ in shape "
            "(landscape video, portrait stills) run as one model call per shape; fps_by_max_batch: smaller batches",
            "ultralytics: its predictor with the ONNX Runtime session swapped for one with rsu's options (same "
            "model, threads, no spinning), one frame after another over the streams, same rect input",
            "variants: each model measured both ways in the same interleaved blocks; the top-level keys are "
            "model_variant's",
        ],
    }
