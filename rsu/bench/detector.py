"""``rsu bench detector``: on one ONNX and the same real frames, measure

(a) ``raw_ms``: ``session.run`` alone on a pre-processed tensor;
(b) ``step_ms``: rsu's full detector step (letterbox + infer + decode + NMS + box mapping);
(c) ``ultralytics_ms``: the ultralytics predictor on the same ONNX (same ORT session options);
(d) ``yolov5s_fp32_ms`` vs ``yolov5s_pruned_int8_ms``: raw inference of FP32 YOLOv5s and of the pruned
    static INT8 (QDQ) model.

(e) ``throughput_fps``: frames/s of rsu's pipelined stream mode (``Detector.detect_stream``: pre/post-processing
    of neighbouring frames overlap inference) over a run of frames, against ``ultralytics_fps``, the same
    number of frames through the ultralytics predictor one after another (how it runs a stream);
    ``throughput_speedup`` is their ratio; ``sequential_fps`` is rsu's one-frame-at-a-time step on the same
    frames (what pipelining itself adds).

All cases run interleaved, in a new random order each round, so machine load (and threads other cases left
spinning) hit them alike; medians are reported. ``ultralytics_default_session_ms`` adds ultralytics' predictor
with its own default session. The models are built once into ``$RSU_CACHE_DIR/bench/detector`` (the tools
extra is needed then); threads: ``$RSU_BENCH_THREADS`` (default: cores, at most 4).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

CONF, IOU = 0.25, 0.45


def _progress(msg: str) -> None:
    print(f"[bench detector] {msg}", file=sys.stderr, flush=True)


def _session(path: Path, threads: int) -> Any:
    from rsu.inference.session import make_session

    return make_session(path, ["cpu"], threads=threads, allow_spinning=False)


def _frame() -> tuple[str, np.ndarray]:
    """A real street scene (``bus.jpg`` from the ultralytics wheel) and its name."""
    from rsu.modeltools.frames import bundled_images

    images = bundled_images()
    if not images:
        raise ModuleNotFoundError("the detector benchmark reads its frames from the ultralytics wheel: "
                                  "pip install 'rsu[tools]'", name="ultralytics")
    return images[0].name, cv2.imread(str(images[0]))


def _ultralytics_predictor(path: Path, frame: np.ndarray, threads: int | None) -> Callable[[], Any]:
    """A callable running ultralytics' predictor on ``frame``.

    With ``threads`` its ONNX Runtime session is replaced by one with rsu's options (same threads, no
    spinning) so only the pipelines differ; with None it keeps ultralytics' default session.
    """
    from rsu.modeltools.env import import_ultralytics

    ul = import_ultralytics()
    yolo = ul.YOLO(str(path), task="detect")
    kwargs = {"imgsz": 640, "conf": CONF, "iou": IOU, "device": "cpu", "verbose": False}
    yolo.predict(frame, **kwargs)  # builds the predictor
    if threads is not None:
        backend = getattr(getattr(yolo.predictor, "model", None), "backend", None)
        if backend is None or not hasattr(backend, "session"):
            raise RuntimeError("cannot reach the ultralytics predictor's ONNX Runtime session (ultralytics changed)")
        backend.session = _session(path, threads)
    return lambda: yolo.predict(frame, **kwargs)


def run(quick: bool = False) -> dict[str, Any]:
    """Run the benchmark; returns the JSON-ready result (keys in docs: DESIGN.md, benchmark JSON)."""
    from rsu.config.models import DetectorConfig
    from rsu.inference.detector import Detector
    from rsu.inference.preprocess import InputSpec, prepare_batch
    from rsu.modeltools.env import cache_dir, have_tools
    from rsu.modeltools.zoo import build_detector_set

    threads = int(os.environ.get("RSU_BENCH_THREADS", min(os.cpu_count() or 1, 4)))
    folder = cache_dir() / "bench" / "detector"
    if not (folder / "manifest.json").is_file():
        if not have_tools():
            raise ModuleNotFoundError("first run builds the models: pip install 'rsu[tools]'", name="torch")
        _progress(f"first run: building the YOLOv5s model set into {folder}")
    models = build_detector_set(folder, progress=_progress)
    fp32 = folder / models["fp32"]
    int8 = folder / models["pruned_int8"]
    frame_name, frame = _frame()

    raw_sess = _session(fp32, threads)
    name = raw_sess.get_inputs()[0].name
    tensor, _ = prepare_batch([frame], InputSpec(size=(640, 640)))
    int8_sess = _session(int8, threads)
    pruned_sess = _session(folder / models["pruned_fp32"], threads)
    cfg = DetectorConfig(model=str(fp32), kind="yolov8", providers=["cpu"], conf_threshold=CONF, iou_threshold=IOU,
                         threads=threads, allow_spinning=False)
    detector = Detector.from_config(cfg)

    cases: dict[str, Callable[[], Any]] = {
        "raw": lambda: raw_sess.run(None, {name: tensor}),
        "step": lambda: detector.detect_image(frame),
        "pruned_fp32": lambda: pruned_sess.run(None, {name: tensor}),
        "pruned_int8": lambda: int8_sess.run(None, {name: tensor}),
    }
    notes: list[str] = [
        "random-weight YOLOv5s(u) made input-dependent (BatchNorm from real frames, class biases set): "
        "speed figures only, not accuracy",
        "yolov5s_fp32_ms is the same measurement as raw_ms (same model, same session options)",
    ]
    if have_tools():
        cases["ultralytics"] = _ultralytics_predictor(fp32, frame, threads)
        cases["ultralytics_default"] = _ultralytics_predictor(fp32, frame, None)
        notes.append("ultralytics_ms: ultralytics' predictor with its session swapped for one with rsu's options "
                     "(only the pipelines differ); ultralytics_default_session_ms: as shipped")
    else:
        notes.append("ultralytics not installed: (c) skipped")

    rounds = 6 if quick else 36
    _progress(f"timing {len(cases)} cases x {rounds} rounds, interleaved ({threads} threads)")
    samples: dict[str, list[float]] = {k: [] for k in cases}
    for fn in cases.values():  # warm-up
        fn(), fn()
    order = list(cases.items())
    rng = np.random.default_rng(0)
    for _ in range(rounds):  # a new order each round: a case's cost must not land on a fixed neighbour
        for j in rng.permutation(len(order)):
            key, fn = order[j]
            t0 = time.perf_counter_ns()
            fn()
            samples[key].append((time.perf_counter_ns() - t0) / 1e6)
    throughput = _throughput(detector, frame, cases.get("ultralytics"), 4 if quick else 16, 2 if quick else 4)
    med = {k: float(np.median(v)) for k, v in samples.items()}
    p99 = {k: float(np.percentile(v, 99)) for k, v in samples.items()}
    detections = len(detector.detect_image(frame).xyxy)

    def r(x: float | None, n: int = 3) -> float | None:
        return None if x is None else round(x, n)

    ultra = med.get("ultralytics")
    return {
        "raw_ms": r(med["raw"]),
        "step_ms": r(med["step"]),
        "step_over_raw": r(med["step"] / med["raw"], 4),
        "ultralytics_ms": r(ultra),
        "speedup_vs_ultralytics": r(ultra / med["step"], 4) if ultra else None,
        "yolov5s_params": models["params_full"],
        "pruned_params": models["params_pruned"],
        "yolov5s_fp32_ms": r(med["raw"]),
        "yolov5s_pruned_int8_ms": r(med["pruned_int8"]),
        "pruned_int8_speedup": r(med["raw"] / med["pruned_int8"], 4),
        "pruned_fp32_ms": r(med["pruned_fp32"]),
        "param_reduction": r(1 - models["params_pruned"] / models["params_full"], 4),
        "p99_ms": {k: r(v) for k, v in p99.items()},
        "detections_per_frame": detections,
        "rounds": rounds,
        "threads": threads,
        "input": f"640x640 letterboxed from {frame_name} {frame.shape[1]}x{frame.shape[0]}",
        "model": models["source"],
        "ultralytics_default_session_ms": r(med.get("ultralytics_default")),
        "speedup_vs_ultralytics_default_session": r(med["ultralytics_default"] / med["step"], 4)
        if "ultralytics_default" in med else None,
        "int8": {"qdq_nodes": models["int8_qdq_nodes"], "head_nodes_kept_float": models["int8_excluded_nodes"]},
        **throughput,
        "notes": notes,
    }


def _throughput(detector: Any, frame: np.ndarray, ultralytics: Callable[[], Any] | None, frames: int,
                blocks: int) -> dict[str, Any]:
    """Frames/s of rsu's pipelined stream and of ultralytics' predictor, ``blocks`` alternating runs of
    ``frames`` frames each; the median block of each is reported."""
    from rsu_sdk import Frame

    def rsu_block() -> float:
        stream = (Frame(source="bench", t_event_ns=i, frame_id=i, image=frame) for i in range(frames))
        t0 = time.perf_counter()
        n = sum(1 for _ in detector.detect_stream(stream))
        return n / (time.perf_counter() - t0)

    def step_block() -> float:
        t0 = time.perf_counter()
        for i in range(frames):
            detector.detect_image(frame, source="bench", frame_id=i, t_event_ns=i)
        return frames / (time.perf_counter() - t0)

    def ultra_block() -> float:
        assert ultralytics is not None
        t0 = time.perf_counter()
        for _ in range(frames):
            ultralytics()
        return frames / (time.perf_counter() - t0)

    fps: dict[str, list[float]] = {"rsu": [], "step": [], "ultralytics": []}
    runs = [("rsu", rsu_block), ("step", step_block)] + ([("ultralytics", ultra_block)] if ultralytics else [])
    for b in range(blocks):  # rotate which goes first
        for key, fn in runs[b % len(runs):] + runs[:b % len(runs)]:
            fps[key].append(fn())
    rsu_fps = float(np.median(fps["rsu"]))
    ul_fps = float(np.median(fps["ultralytics"])) if fps["ultralytics"] else None
    return {"throughput_fps": round(rsu_fps, 3), "ultralytics_fps": None if ul_fps is None else round(ul_fps, 3),
            "throughput_speedup": None if ul_fps is None else round(rsu_fps / ul_fps, 4),
            "sequential_fps": round(float(np.median(fps["step"])), 3),
            "throughput_frames_per_block": frames, "throughput_blocks": blocks}

