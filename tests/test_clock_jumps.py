"""The box's wall clock jumps an hour forwards and an hour back mid-run (an NTP step, a battery-less RTC set
late). Everything that measures durations keeps going (monotonic), the dataflow neither freezes nor sheds
everything, heartbeats keep coming, no ``t_event`` is ahead of its ``t_publish``, and a checkpoint written
while the clock was an hour ahead does not stop a restarted box from publishing.

The box runs in a child process (tests/clock_step_child.py) whose ``time.time_ns`` / ``time.time`` the test
steps, what a step of the system clock looks like to every part of it; ``time.monotonic`` is the real one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from rsu.config import load_config
from support import Subscriber, wait_until

WAIT_S = 120.0  # generous: a loaded 2-core machine
CHILD = Path(__file__).with_name("clock_step_child.py")


class SteppedBox:
    """The child box: ``step(seconds)`` moves its wall clock, ``stats()`` reads its runner and publisher."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.endpoint = self._answer()["endpoint"]

    def _answer(self) -> dict[str, Any]:
        line = self.proc.stdout.readline()
        assert line, f"the child box ended: {self.proc.stderr.read()[-3000:]}"
        return json.loads(line)

    def _ask(self, cmd: dict[str, Any]) -> dict[str, Any]:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self._answer()

    def step(self, seconds: float) -> None:
        self._ask({"step": seconds})

    def stats(self) -> dict[str, Any]:
        return self._ask({"stats": True})

    def stop(self) -> None:
        self._ask({"stop": True})
        self.proc.wait(WAIT_S)


@contextmanager
def stepped_box(raw: dict[str, Any], tmp: Path, offset_s: float = 0.0) -> Iterator[SteppedBox]:
    path = tmp / "box.json"
    path.write_text(json.dumps(raw))
    proc = subprocess.Popen([sys.executable, str(CHILD), str(path), str(tmp), str(offset_s)], text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        box = SteppedBox(proc)
        yield box
        box.stop()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rsu.sim.intersection.recording import simulate

    rec = tmp_path_factory.mktemp("rec")
    simulate(rec, seconds=20.0, seed=3)
    return rec


def _config(rec: Path, state: Path) -> dict[str, Any]:
    raw = load_config(rec / "config.yaml").model_dump(mode="json", exclude_none=True)
    raw["sources"][0].update(loop=True, rebase_time=True)  # event times from the box clock, as live sensors
    raw["publish"] = {"zmq": {"endpoint": "tcp://127.0.0.1:*"}, "health_interval_s": 0.25}
    raw["pipeline"] = {**raw.get("pipeline", {}), "checkpoint": {"dir": str(state), "interval_s": 0.25}}
    return raw


def _objects(sub: Subscriber) -> list[dict[str, Any]]:
    return [m.payload for m in sub.messages if "/objects" in m.topic]


def _beats(sub: Subscriber) -> list[dict[str, Any]]:
    return [m.payload for m in sub.messages if m.topic.endswith("/health/rsu")]


def _phase(sub: Subscriber, what: str, objects: int = 15, beats: int = 4) -> None:
    """Wait until ``objects`` more object lists with tracks, and ``beats`` more box heartbeats, arrive."""
    n_obj = sum(1 for p in _objects(sub) if p["objects"])
    n_beat = len(_beats(sub))
    wait_until(lambda: sum(1 for p in _objects(sub) if p["objects"]) >= n_obj + objects, WAIT_S,
               f"{objects} object lists with tracks {what}")
    wait_until(lambda: len(_beats(sub)) >= n_beat + beats, WAIT_S, f"{beats} heartbeats {what}")


def test_the_box_runs_through_clock_steps(recording: Path, tmp_path: Path) -> None:
    raw = _config(recording, tmp_path / "state")
    site = raw["site"]["name"]
    with stepped_box(raw, tmp_path) as box, Subscriber(box.endpoint, f"rsu/{site}/") as sub:
        _phase(sub, "before any step")
        for step, what in ((+3600, "after the clock stepped an hour forward"),
                           (-3600, "after it stepped back an hour"), (-3600, "an hour behind the real time"),
                           (+3600, "back on time")):
            box.step(step)
            _phase(sub, what)
        stats = box.stats()
    ahead = [(m.topic, m.payload["t_event"] - m.payload["t_publish"]) for m in sub.messages
             if m.payload["t_event"] > m.payload["t_publish"]]
    assert not ahead, f"t_event ahead of t_publish: {ahead[:5]}"
    assert stats["runner"]["clock_steps_back"] >= 1  # seen, and a new timeline started
    assert sum(stats["box"]["stale"].values()) < len(_objects(sub)) / 10, stats["box"]["stale"]


def test_a_checkpoint_from_an_hour_ahead_does_not_silence_a_restart(recording: Path, tmp_path: Path) -> None:
    raw = _config(recording, tmp_path / "state")
    site = raw["site"]["name"]
    with stepped_box(raw, tmp_path, offset_s=3600) as box, Subscriber(box.endpoint, f"rsu/{site}/") as sub:
        _phase(sub, "with the clock an hour ahead")
        wait_until(lambda: box.stats()["runner"]["checkpoint"]["written"] >= 2, WAIT_S, "checkpoints written")
    with stepped_box(raw, tmp_path) as box, Subscriber(box.endpoint, f"rsu/{site}/") as sub:  # clock corrected
        _phase(sub, "after the restart on the corrected clock")
        runner = box.stats()["runner"]
        assert runner["checkpoint"]["restored"] == 1 and runner["high_water_discarded"] >= 1
