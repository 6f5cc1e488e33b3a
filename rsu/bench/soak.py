"""Soak: run a box for a long time and watch what grows (``rsu soak CONFIG --minutes N``).

Every ``interval_s`` one sample: the process's resident memory (anonymous and file-backed apart), threads and
open file descriptors (Linux ``/proc/self``), the blocks Python's allocator holds, the C heap, the box's lane
and queue depths, what the publisher sent and dropped, and the event ->
publish latency (p50 / p99 since the start, from the run summary). The summary gives, per measure, the
first and last value after the warm-up, the min / max over it and the growth per hour (least-squares slope
of the samples after the warm-up, times 3600), so a leak shows as a steady positive slope while a one-off
allocation at start-up (models, buffers) falls inside the warm-up.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rsu.core.allocator import heap_info

__all__ = ["process_sample", "growth_per_hour", "soak", "summarise"]

_MEASURES = ("rss_mb", "rss_anon_mb", "rss_file_mb", "py_blocks", "threads", "fds", "queue_depth", "latency_p99_ms")


_STATUS_MB = {"VmRSS": "rss_mb", "RssAnon": "rss_anon_mb", "RssFile": "rss_file_mb"}


def process_sample(proc: Path = Path("/proc/self")) -> dict[str, float | None]:
    """``rss_mb`` (with its anonymous and file-backed parts, ``rss_anon_mb`` / ``rss_file_mb``), ``threads``
    and ``fds`` of the process ``proc`` names; None for what cannot be read."""
    out: dict[str, float | None] = {"rss_mb": None, "rss_anon_mb": None, "rss_file_mb": None,
                                    "threads": None, "fds": None}
    try:
        for line in (proc / "status").read_text(encoding="ascii", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key in _STATUS_MB:
                out[_STATUS_MB[key]] = round(int(value.split()[0]) / 1024.0, 2)
            elif key == "Threads":
                out["threads"] = int(value.strip())
    except (OSError, ValueError, IndexError):
        pass
    try:
        out["fds"] = len(os.listdir(proc / "fd"))
    except OSError:
        pass
    if out["threads"] is None:
        out["threads"] = threading.active_count()  # Python threads only, where /proc is absent
    return out


def growth_per_hour(t_s: Sequence[float], values: Sequence[float]) -> float | None:
    """Least-squares slope of ``values`` over ``t_s`` (seconds), per hour; None with fewer than 2 points."""
    n = len(t_s)
    if n < 2:
        return None
    mt, mv = sum(t_s) / n, sum(values) / n
    var = sum((t - mt) ** 2 for t in t_s)
    if var == 0:
        return None
    return sum((t - mt) * (v - mv) for t, v in zip(t_s, values)) / var * 3600.0


def _box_sample(box: Any) -> dict[str, Any]:
    depths = box.queue_depths()
    summary = box.summary()
    latency = summary.get("latency_event_to_publish", {}).get("all") or {}
    publish = summary.get("publish") or {}
    return {"queue_depth": sum(v for v in depths.values() if isinstance(v, (int, float))),
            "queues": depths, "lanes": box.lanes.stats(),
            "latency_p50_ms": latency.get("p50_ms"), "latency_p99_ms": latency.get("p99_ms"),
            "published": publish.get("sent"), "publish_dropped": publish.get("dropped"),
            "drops": sum(summary.get("drops", {}).values())}


def summarise(samples: list[dict[str, Any]], warmup_s: float) -> dict[str, Any]:
    """Per measure after the warm-up: ``first``, ``last``, ``min``, ``max``, ``growth_per_h``."""
    after = [s for s in samples if s["t_s"] >= warmup_s] or samples[-2:]
    out: dict[str, Any] = {}
    for key in _MEASURES:
        points = [(s["t_s"], s[key]) for s in after if isinstance(s.get(key), (int, float))]
        values = [v for _, v in points]
        slope = growth_per_hour([t for t, _ in points], values)
        out[key] = {"first": values[0] if values else None, "last": values[-1] if values else None,
                    "min": min(values, default=None), "max": max(values, default=None),
                    "growth_per_h": None if slope is None else round(slope, 3)}
    return out


def soak(box: Any, *, seconds: float, interval_s: float = 30.0, warmup_s: float = 300.0,
         should_stop: Callable[[], bool] = lambda: False,
         on_sample: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Run ``box`` (an :class:`rsu.app.box.Box`) for ``seconds``, sampling every ``interval_s``; the summary.

    The box runs on its own thread; sampling happens here. ``should_stop`` ends the soak early (signals).
    """
    stop = threading.Event()
    runner = threading.Thread(target=box.run, kwargs={"should_stop": stop.is_set}, name="soak-box", daemon=True)
    t0 = time.monotonic()
    runner.start()
    samples: list[dict[str, Any]] = []
    next_at = t0
    while True:
        now = time.monotonic()
        if now >= next_at:
            sample = {"t_s": round(now - t0, 2), **process_sample(), "py_blocks": sys.getallocatedblocks(),
                      "heap": heap_info()}
            try:
                sample.update(_box_sample(box))
            except Exception as exc:  # noqa: BLE001 - a sample that fails is reported, the soak goes on
                sample["error"] = f"{type(exc).__name__}: {exc}"
            samples.append(sample)
            if on_sample is not None:
                on_sample(sample)
            next_at += interval_s
        if now - t0 >= seconds or should_stop() or not runner.is_alive():
            break
        stop.wait(max(0.0, min(next_at, t0 + seconds) - time.monotonic()))
    ended_early = runner.is_alive() is False and time.monotonic() - t0 < seconds
    stop.set()
    runner.join(60.0)
    final = box.summary()
    return {
        "seconds": round(time.monotonic() - t0, 1), "interval_s": interval_s, "warmup_s": warmup_s,
        "samples": len(samples), "box_stopped_early": ended_early,
        "inputs_ended": bool(getattr(box, "inputs_ended", False)),
        **summarise(samples, warmup_s),
        "publish": {k: (final.get("publish") or {}).get(k) for k in ("sent", "dropped", "skipped")},
        "drops": final.get("drops", {}),
        "timeline": samples,
    }
