"""``rsu bench overload``: the demo site run twice in one invocation, quiet and then with two CPU-burning
processes beside it; ObjectList event->publish latency as a subscriber sees it, and every safety product.

Each phase runs ``rsu run configs/demo.yaml`` (from the working directory, a repository checkout with the demo
inputs: ``bash scripts/demo.sh`` makes them) in a child process with the web server off, a fresh checkpoint
folder and its own port, and a ZeroMQ subscriber in this process. Keys: ``quiet_p99_ms``, ``loaded_p99_ms``,
``loaded_over_quiet`` (target <= 3), ``safety_sent`` (safety products the box made: alarms, actuations, health,
from its run summary and heartbeat count), ``safety_published`` (those the subscriber received; target: equal),
``stale_dropped`` (inputs shed as stale in the loaded phase).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

__all__ = ["run", "measure_phase"]

SAFETY_SCHEMAS = ("rsu.fault.alarm/1", "rsu.actuation.command/1", "rsu.actuation.outcome/1", "rsu.health/1")
SAFETY_TYPES = ("Alarm", "ActuationCommand", "ActuationOutcome", "HealthEvent")
_BURN = "import time\nend = time.monotonic() + {s}\nwhile time.monotonic() < end:\n    pass\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Collector:
    """A SUB socket on its own thread: objects latencies and safety messages by schema."""

    def __init__(self, endpoint: str, site: str) -> None:
        import zmq

        self._ctx = zmq.Context()
        self._sock = self._ctx.socket(zmq.SUB)
        self._sock.setsockopt(zmq.RCVHWM, 0)
        self._sock.setsockopt_string(zmq.SUBSCRIBE, f"rsu/{site}/")
        self._sock.connect(endpoint)
        self.latency_ms: list[float] = []
        self.safety: dict[str, int] = dict.fromkeys(SAFETY_SCHEMAS, 0)
        self.heartbeats = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            if not self._sock.poll(50):
                continue
            frames = self._sock.recv_multipart()
            if len(frames) != 2:
                continue  # binary V2X bodies: [topic, header, body]
            msg = json.loads(frames[1])
            schema = msg.get("schema")
            if schema == "rsu.objects/1":
                self.latency_ms.append((msg["t_publish"] - msg["t_event"]) / 1e6)
            elif schema in self.safety:
                self.safety[schema] += 1
                self.heartbeats += bool(msg.get("heartbeat"))

    def close(self, quiet_s: float = 1.0) -> None:
        time.sleep(quiet_s)  # what the box flushed at shutdown is still on its way
        self._stop.set()
        self._thread.join(5)
        self._sock.close(0)
        self._ctx.term()


def _phase_config(config: Path, out: Path, port: int) -> Path:
    doc = yaml.safe_load(config.read_text())
    doc.setdefault("publish", {}).setdefault("zmq", {})["endpoint"] = f"tcp://127.0.0.1:{port}"
    doc["web"] = {"enabled": False}
    doc.setdefault("pipeline", {}).setdefault("checkpoint", {})["dir"] = str(out / "checkpoints")
    path = out / "config.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def measure_phase(config: Path, seconds: float, *, burners: int = 0, cwd: Path | None = None,
                  env: dict[str, str] | None = None, rsu_command: list[str] | None = None) -> dict[str, Any]:
    """Run the box on ``config`` for ``seconds`` beside ``burners`` CPU-burning processes; what a subscriber saw.

    ``rsu_command`` replaces ``[python, -m, rsu]`` (e.g. another checkout's code, for a comparison)."""
    cwd = cwd or Path.cwd()
    site = yaml.safe_load(config.read_text())["site"]["name"]
    with tempfile.TemporaryDirectory(prefix="rsu-overload-") as tmp:
        out = Path(tmp)
        port = _free_port()
        cfg = _phase_config(config, out, port)
        collector = _Collector(f"tcp://127.0.0.1:{port}", site)
        burn = [subprocess.Popen([sys.executable, "-c", _BURN.format(s=seconds + 30)]) for _ in range(burners)]
        try:
            proc = subprocess.run([*(rsu_command or [sys.executable, "-m", "rsu"]), "run", str(cfg), "--for", str(seconds),
                                   "--summary", str(out / "summary.json")], cwd=cwd, capture_output=True,
                                  text=True, timeout=seconds + 180, env={**os.environ, **(env or {})})
        finally:
            for p in burn:
                p.kill()
                p.wait()
            collector.close()
        if proc.returncode != 0:
            raise RuntimeError(f"rsu run exited {proc.returncode}: {proc.stderr[-2000:]}")
        summary = json.loads((out / "summary.json").read_text())
    routed = summary.get("stages", {}).get("routed") or summary.get("stages", {}).get("ingest", {})
    heartbeats = (summary.get("services", {}).get("heartbeat") or {}).get("sent", 0)
    lat = np.asarray(collector.latency_ms) if collector.latency_ms else np.asarray([np.nan])
    return {
        "objects_published": len(collector.latency_ms),
        "p50_ms": round(float(np.percentile(lat, 50)), 3), "p99_ms": round(float(np.percentile(lat, 99)), 3),
        "safety_sent": int(sum(routed.get(t, 0) for t in SAFETY_TYPES) + heartbeats),
        "safety_published": int(sum(collector.safety.values())),
        "safety_by_schema": collector.safety,
        "stale_dropped": int(sum((summary.get("stale") or {}).values())),
        "drops": summary.get("drops", {}),
        "late_events": summary.get("late_events", {}),
    }


def run(quick: bool = False, config: str = "configs/demo.yaml") -> dict[str, Any]:
    """Quiet, then loaded (two CPU burners); 15 s each with ``quick``, 40 s otherwise."""
    path = Path(config)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: run from the repository root after bash scripts/demo.sh made the demo inputs")
    seconds = 15.0 if quick else 40.0
    quiet = measure_phase(path, seconds)
    loaded = measure_phase(path, seconds, burners=2)
    return {
        "config": str(path), "seconds_per_phase": seconds, "cpu_burners": 2,
        "quiet_p99_ms": quiet["p99_ms"], "loaded_p99_ms": loaded["p99_ms"],
        "loaded_over_quiet": round(loaded["p99_ms"] / quiet["p99_ms"], 3) if quiet["p99_ms"] else None,
        "safety_sent": loaded["safety_sent"], "safety_published": loaded["safety_published"],
        "stale_dropped": loaded["stale_dropped"],
        "quiet": quiet, "loaded": loaded,
    }
