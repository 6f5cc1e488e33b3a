"""``rsu bench tiered``: offload round trip on loopback at 10 Hz against the deadline, and the fallback path.

Local detector ``ssd-mobilenetv2-int8``, edge server ``nanodet-m`` (a real :class:`InferenceServer` on
127.0.0.1), frames of ``vtest.avi``, every frame offloaded. Baselines from the same run: the local detector
alone and the edge model alone (its inference time as the server measured it). Then a server that never
answers: fallback counts and the worst time a frame took (bounded by local + deadline).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

DEADLINE_MS = 150.0


def _frames(n: int) -> list[Any]:
    import cv2
    from rsu_sdk import Frame

    from rsu.assets.paths import data_file

    cap = cv2.VideoCapture(str(data_file("data/vtest.avi")))
    out = []
    for i in range(n):
        ok, image = cap.read()
        if not ok:
            break
        out.append(Frame(source="cam", t_event_ns=1_700_000_000_000_000_000 + i * 100_000_000, frame_id=i,
                         image=image))
    cap.release()
    return out


def _paced(stage: Any, frames: list[Any], period_s: float = 0.1) -> list[float]:
    took, t0 = [], time.perf_counter()
    for i, frame in enumerate(frames):
        t = time.perf_counter()
        stage.process(frame)
        took.append((time.perf_counter() - t) * 1e3)
        time.sleep(max(0.0, t0 + (i + 1) * period_s - time.perf_counter()))
    return took


def run(quick: bool = False) -> dict[str, Any]:
    import zmq

    from rsu.app.perception import DetectorStage
    from rsu.config.models import DetectorConfig
    from rsu.config.tiered import BackoffConfig, OffloadPolicyConfig, TieredConfig
    from rsu.inference.detector import Detector
    from rsu.tiered.server import InferenceServer
    from rsu.tiered.stage import TieredDetectorStage

    frames = _frames(30 if quick else 150)
    local = DetectorStage(Detector.from_config(DetectorConfig(model="ssd-mobilenetv2-int8", threads=1)))
    local_ms = _paced(local, frames[:20], 0.0)
    server = InferenceServer(Detector.from_config(DetectorConfig(model="nanodet-m", threads=1)),
                             "tcp://127.0.0.1:*").start()
    every = OffloadPolicyConfig(every_frame=True)
    try:
        stage = TieredDetectorStage(local, TieredConfig(endpoint=server.endpoint, deadline_ms=DEADLINE_MS,
                                                        offload=every))
        stage.client.wait_connected(5.0)
        frame_ms = _paced(stage, frames)
        st = stage.stats()["tiered"]
        stage.close()
        edge = server.stats()
    finally:
        server.close()
    mute = zmq.Context.instance().socket(zmq.ROUTER)
    mute.setsockopt(zmq.LINGER, 0)
    mute.bind("tcp://127.0.0.1:*")
    try:
        dead = TieredDetectorStage(local, TieredConfig(endpoint=mute.getsockopt_string(zmq.LAST_ENDPOINT),
                                                       deadline_ms=DEADLINE_MS, offload=every,
                                                       backoff=BackoffConfig(after_failures=5, seconds=1.0)))
        dead.client.wait_connected(5.0)
        dead_ms = _paced(dead, frames[:30])
        ds = dead.stats()["tiered"]
        dead.close()
    finally:
        mute.close(0)
    rt = st["round_trip"]
    local_p50 = float(np.median(local_ms))
    return {
        "deadline_ms": DEADLINE_MS, "rate_hz": 10, "frames": len(frames),
        "offload_p50_ms": rt["p50_ms"], "offload_p99_ms": rt["p99_ms"],
        "p99_over_deadline": round(rt["p99_ms"] / DEADLINE_MS, 3) if rt["p99_ms"] else None,
        "answered": st["client"]["answered"], "fallbacks": st.get("fallback", 0),
        "frame_p50_ms": round(float(np.median(frame_ms)), 3),
        "baseline_local_p50_ms": round(local_p50, 3), "baseline_edge_infer_ms": edge["infer_ms_mean"],
        "offload_over_local": round(rt["p50_ms"] / local_p50, 3) if rt["p50_ms"] else None,
        "mute_server": {"frames": len(dead_ms), "fallbacks": ds.get("fallback", 0),
                        "timeouts": ds["client"]["timeout"], "backoff": ds.get("backoff", 0),
                        "frame_max_ms": round(max(dead_ms), 3)},
    }
