"""Inputs and checks shared by the pipeline and Flink tests (not a test module)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rsu_sdk import Prediction, SensorReading

T0 = 1_767_225_600_000_000_000
CHANNELS = ("temp", "pressure", "flow", "vibration")


def readings(devices: int = 3, samples: int = 200, seed: int = 7) -> list[SensorReading]:
    """Interleaved readings of ``devices`` devices at 1 Hz with a step fault on the last device."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(samples):
        for d in range(devices):
            x = rng.normal(0.0, 1.0, len(CHANNELS)) + 10.0 * d
            if d == devices - 1 and i > samples // 2:
                x[0] += 8.0
            out.append(SensorReading(source="plant", t_event_ns=T0 + i * 1_000_000_000 + d * 1_000_000,
                                     device=f"dev-{d}", values=dict(zip(CHANNELS, x.tolist()))))
    return out


def recording(tmp: Path, seconds: float = 12.0, seed: int = 3) -> tuple[Any, list[Any]]:
    """A simulated intersection recording: its config and its products in event order."""
    from rsu.config import load_config
    from rsu.sim.intersection.recording import simulate
    from rsu.sources.replay import iter_products

    simulate(tmp, seconds=seconds, seed=seed)
    return load_config(tmp / "config.yaml"), list(iter_products(tmp))


def assert_same_products(a: list[Any], b: list[Any]) -> None:
    """Same object lists (tracks, ids, classes, positions to 1e-6) and the same predictions."""
    assert len(a) == len(b), f"{len(a)} products vs {len(b)}"
    for x, y in zip(a, b):
        assert type(x) is type(y) and x.t_event_ns == y.t_event_ns and x.source == y.source
        if isinstance(x, Prediction):
            assert (x.device, x.model) == (y.device, y.model)
            assert abs(x.score - y.score) <= 1e-9
            continue
        assert [o.track_id for o in x.objects] == [o.track_id for o in y.objects]
        for o, p in zip(x.objects, y.objects):
            assert o.class_name == p.class_name and o.state == p.state
            np.testing.assert_allclose(o.position_enu, p.position_enu, atol=1e-6, rtol=0)
            np.testing.assert_allclose(o.velocity_enu, p.velocity_enu, atol=1e-6, rtol=0)


def sort_key(p: Any) -> tuple[int, str, str]:
    return p.t_event_ns, type(p).__name__, getattr(p, "device", p.source)


def jsonl_lines(path: Path) -> list[dict]:
    """The JSON records a child box wrote so far (none when the file does not exist yet); a last line without
    its newline is a record still being written (or cut off by a kill) and is left out."""
    import json

    if not path.exists():
        return []
    complete = path.read_text().split("\n")[:-1]  # the part after the last newline is not a whole record
    return [json.loads(x) for x in complete if x.strip()]


def kill_then_restart(child: Path, rec: Path, tmp: Path, *, speed: float, min_lines: int,
                      wait_s: float) -> tuple[list[dict], list[dict], dict[str, Any]]:
    """Run the box script ``child`` on ``rec`` (paced at ``speed``), SIGKILL it once it has published at least
    ``min_lines`` records and written a checkpoint, then run it again unpaced from that checkpoint.

    :returns: the records before the kill, the records after the restart, and the restart's stats line.
    """
    import json
    import os
    import signal
    import subprocess
    import sys

    from support import wait_until

    out1, out2, ckpt = tmp / "before.jsonl", tmp / "after.jsonl", tmp / "ckpt"

    def start(out: Path, pace: float) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, str(child), str(rec), str(out), str(ckpt), str(pace)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    proc = start(out1, speed)
    try:
        wait_until(lambda: len(jsonl_lines(out1)) >= min_lines and list(ckpt.glob("ckpt-*.pkl")), wait_s,
                   f"{min_lines} records and a checkpoint from the first run", interval=0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    before = jsonl_lines(out1)
    proc = start(out2, 0.0)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr[-2000:]
    return before, jsonl_lines(out2), json.loads(stdout.strip().splitlines()[-1])
