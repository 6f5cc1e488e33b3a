"""Replays and the box clock: a replay faster than real time never publishes an event time ahead of the
clock (issue 13), and one bad recorded time never stalls or silences a replay (issue 16).

Clocks are injected: ``FakeStop.wait`` advances a fake clock instead of sleeping, so nothing here depends on
how loaded the machine is.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from rsu_sdk import Detections, RadarObject, SensorReading

from rsu.config.sources import AirStationSourceConfig
from rsu.sources.air_station import AirStationSource
from rsu.sources.ars408 import encode_cycle
from rsu.sources.replay import ReplaySource
from rsu.sources.sensor_replay import SensorReplaySource
from rsu.sources.timeline import ReplayTimeline

T0 = 1_767_225_600_000_000_000  # when the recordings were made
NOW = 1_800_000_000_000_000_000  # the box clock when they are replayed


class FakeClock:
    def __init__(self) -> None:
        self.t_ns = NOW

    def wall_ns(self) -> int:
        return self.t_ns

    def monotonic(self) -> float:
        return (self.t_ns - NOW) / 1e9


class FakeStop(threading.Event):
    """A stop event whose ``wait`` moves the fake clock on by the timeout instead of sleeping."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock, self.waited_s = clock, 0.0

    def wait(self, timeout: float | None = None) -> bool:
        if timeout:
            self.clock.t_ns += round(timeout * 1e9)
            self.waited_s += timeout
        return self.is_set()


def _checked(clock: FakeClock, out: list):
    def emit(p) -> None:
        assert p.t_event_ns <= clock.wall_ns(), f"t_event {p.t_event_ns} ahead of the box clock {clock.wall_ns()}"
        out.append(p)
    return emit


def _readings(path: Path, times: list[int]) -> Path:
    path.write_text("".join(json.dumps({"t_event_ns": t, "device": "d", "values": {"x": float(i)}}) + "\n"
                            for i, t in enumerate(times)))
    return path


def _intersection(path: Path, seconds: float) -> Path:
    obj = [RadarObject(object_id=1, dist_long=20.0, dist_lat=0.0, vrel_long=0.0, vrel_lat=0.0, rcs=5.0,
                       class_name="car", prob_exist=0.99, length=4.4, width=1.8, orientation_deg=0.0)]
    lines, cam = [], []
    for k in range(int(seconds / 0.1)):
        t = T0 + k * 100_000_000
        for ts, aid, data in encode_cycle(obj, k, t / 1e9):
            lines.append(f"({ts:.6f}) can0 {aid:03X}#{data.hex().upper()} R")
        cam.append(json.dumps({"kind": "detections", "source": "cam-1", "t_event": t + 50_000_000, "frame_id": k,
                               "image_size": [640, 480], "class_names": ["car"], "xyxy": [[1, 2, 30, 40]],
                               "confidence": [0.9], "class_id": [0]}))
    (path / "radar.log").write_text("\n".join(lines) + "\n")
    (path / "camera.jsonl").write_text("\n".join(cam) + "\n")
    return path


def test_20x_replay_of_an_intersection_compresses_its_timeline_onto_the_clock(tmp_path: Path) -> None:
    clock = FakeClock()
    src = ReplaySource("x", _intersection(tmp_path, 10.0), speed=20.0, rebase_time=True, wall_ns=clock.wall_ns,
                       monotonic=clock.monotonic)
    out: list = []
    stop = FakeStop(clock)
    src.run(_checked(clock, out), stop)
    assert len(out) == 200 and sum(isinstance(p, Detections) for p in out) == 100
    times = [p.t_event_ns for p in out]
    assert times == sorted(times) and times[0] == NOW
    # 10 recorded seconds in half a second of box time, and published on that half second
    assert abs((times[-1] - times[0]) - 9.95e9 / 20) < 1e6 and abs(stop.waited_s - 9.95 / 20) < 1e-3
    stats = src.stats()
    assert stats["time_mode"] == "compressed" and stats["time_scale"] == 0.05 and stats["time_clamped"] == 0


def test_20x_sensor_replay_never_publishes_ahead_of_the_clock(tmp_path: Path) -> None:
    clock = FakeClock()
    f = _readings(tmp_path / "r.jsonl", [T0 + i * 10**9 for i in range(100)])
    src = SensorReplaySource("s", f, speed=20.0, rebase_time=True, loop=True, wall_ns=clock.wall_ns,
                             monotonic=clock.monotonic)
    out: list = []
    stop = FakeStop(clock)

    def emit(p: SensorReading) -> None:
        _checked(clock, out)(p)
        if len(out) == 250:
            stop.set()

    src.run(emit, stop)
    times = [p.t_event_ns for p in out]
    assert len(times) == 250 and times == sorted(times) and src.stats()["passes"] == 3  # the third one stopped
    assert abs(times[1] - times[0] - 50_000_000) <= 1000  # 1 s recorded = 50 ms published


def test_20x_air_station_replay_is_compressed(tmp_path: Path) -> None:
    clock = FakeClock()
    f = tmp_path / "readings.jsonl"
    f.write_text("".join(json.dumps({"station": "aq-1", "t_ns": T0 + i * 10**9, "pm2_5": 10.0 + i}) + "\n"
                         for i in range(40)))
    cfg = AirStationSourceConfig.model_validate({"id": "air", "type": "air_station",
                                                 "replay": {"path": str(f), "speed": 20.0, "rebase_time": True}})
    src = AirStationSource(cfg, wall_ns=clock.wall_ns, monotonic=clock.monotonic)
    out: list = []
    src.run(_checked(clock, out), FakeStop(clock))
    readings = [p for p in out if isinstance(p, SensorReading)]
    assert len(readings) == 40 and abs(readings[-1].t_event_ns - readings[0].t_event_ns - 39 * 50_000_000) <= 1000
    assert src.stats()["time_mode"] == "compressed"


def test_20x_replay_on_the_real_clock(tmp_path: Path) -> None:
    f = _readings(tmp_path / "r.jsonl", [T0 + i * 100_000_000 for i in range(30)])
    src = SensorReplaySource("s", f, speed=20.0, rebase_time=True)
    late: list = []
    out: list = []

    def emit(p: SensorReading) -> None:
        if p.t_event_ns > time.time_ns():
            late.append(p)
        out.append(p)

    src.run(emit, threading.Event())
    assert len(out) == 30 and late == []


def test_one_absurd_time_is_an_outlier_not_a_stall(tmp_path: Path) -> None:
    clock = FakeClock()
    times = [T0 + i * 10**9 for i in range(10)]
    times[4] = T0 + 3 * 365 * 86400 * 10**9  # three years on, in the middle of a 10 s recording
    src = SensorReplaySource("s", _readings(tmp_path / "r.jsonl", times), speed=1.0, wall_ns=clock.wall_ns,
                             monotonic=clock.monotonic)
    out: list = []
    stop = FakeStop(clock)
    src.run(_checked(clock, out), stop)
    assert [int(p.values["x"]) for p in out] == [0, 1, 2, 3, 5, 6, 7, 8, 9]
    assert src.stats()["time_outliers"] == 1 and stop.waited_s < 10


def test_a_spliced_recording_resynchronises_and_a_long_gap_is_not_waited_out(tmp_path: Path) -> None:
    clock = FakeClock()
    hour = 3600 * 10**9
    times = [T0 + i * 10**9 for i in range(5)] + [T0 - hour + i * 10**9 for i in range(5)]  # spliced, goes back
    times += [T0 + 10 * hour + i * 10**9 for i in range(3)]  # a 10-hour gap
    src = SensorReplaySource("s", _readings(tmp_path / "r.jsonl", times), speed=1.0, rebase_time=True,
                             wall_ns=clock.wall_ns, monotonic=clock.monotonic)
    out: list = []
    stop = FakeStop(clock)
    src.run(_checked(clock, out), stop)
    stats = src.stats()
    assert [int(p.values["x"]) for p in out] == [0, 1, 2, 3, 4, 7, 8, 9, 10, 11, 12]
    assert stats["time_out_of_order"] == 2 and stats["time_resyncs"] == 1 and stats["time_gaps_skipped"] == 1
    assert stop.waited_s < 20
    published = [p.t_event_ns for p in out]
    assert published == sorted(published)  # the published timeline stays monotonic through the splice


def test_timeline_modes_and_recorded_times() -> None:
    clock = FakeClock()
    tl = ReplayTimeline(speed=5.0, rebase=False, wall_ns=clock.wall_ns, monotonic=clock.monotonic)
    tl.begin_pass()
    assert tl.admit(T0) and tl.stamp(T0) == T0 and tl.stats()["time_mode"] == "recorded"
    assert tl.due(T0 + 10**9) == 0.2
    future = ReplayTimeline(speed=1.0, rebase=False, wall_ns=clock.wall_ns, monotonic=clock.monotonic)
    future.begin_pass()
    assert future.admit(NOW + 10**12) and future.stamp(NOW + 10**12) == NOW  # a recording "from the future"
    assert future.stats()["time_clamped"] == 1
    assert ReplayTimeline(speed=0, rebase=True).mode == "now"
    assert ReplayTimeline(speed=1, rebase=True).mode == "rebased"
