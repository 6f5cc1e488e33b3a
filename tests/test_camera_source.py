"""Camera source on real OpenCV: files written with cv2.VideoWriter, loop/stop, corrupt input, reconnects."""

from __future__ import annotations

import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest
from rsu_sdk import Frame, HealthEvent

import rsu.sources.camera as camera_module
from rsu.config.sources import CameraSourceConfig
from rsu.core.clock import ManualClock
from rsu.sources.camera import CameraSource
from support import AdvancingStop, clock_seconds, make_video, wait_until


def _video(path: Path, frames: int = 30, size: tuple[int, int] = (64, 48)) -> Path:
    return make_video(path, frames, size, fps=30, seed=0)


def _cfg(url: Path | str, **kw) -> CameraSourceConfig:
    base = {"type": "camera", "id": "cam-1", "url": str(url), "realtime": False, "policy": "queue"}
    return CameraSourceConfig.model_validate({**base, **kw})


def _run(source: CameraSource, stop_when=None, timeout: float = 20.0, stop: threading.Event | None = None):
    got: list = []
    stop = stop if stop is not None else threading.Event()

    def emit(product) -> None:
        got.append(product)
        if stop_when is not None and stop_when(got):
            stop.set()

    t = threading.Thread(target=source.run, args=(emit, stop))
    t.start()
    t.join(timeout)
    stop.set()
    t.join(5)
    assert not t.is_alive(), "run() did not return after stop"
    return got


def test_file_stop_delivers_every_frame_with_capture_timestamps(tmp_path: Path) -> None:
    src = CameraSource(_cfg(_video(tmp_path / "a.avi", 30)))
    before = time.time_ns()
    got = _run(src)
    after = time.time_ns()
    frames = [p for p in got if isinstance(p, Frame)]
    assert [f.frame_id for f in frames] == list(range(30))
    assert frames[0].size == (64, 48) and frames[0].source == "cam-1"
    stamps = [f.t_event_ns for f in frames]
    assert stamps == sorted(stamps) and before <= stamps[0] and stamps[-1] <= after  # the box clock at capture
    health = [p for p in got if isinstance(p, HealthEvent)]
    assert health[0].status == "ok" and health[0].component == "source:cam-1"
    s = src.stats()
    assert s["frames_read"] == s["frames_emitted"] == 30 and s["frames_dropped"] == 0 and s["bad_frames"] == 0


def test_file_loop_starts_again(tmp_path: Path) -> None:
    src = CameraSource(_cfg(_video(tmp_path / "a.avi", 10), loop=True))
    got = _run(src, stop_when=lambda g: sum(isinstance(p, Frame) for p in g) >= 25)
    frames = [p for p in got if isinstance(p, Frame)]
    assert len(frames) >= 25
    assert [f.frame_id for f in frames[:25]] == list(range(25))  # ids keep counting across loops
    assert src.stats()["opens"] >= 3


def _manual_time(monkeypatch: pytest.MonkeyPatch, clock: ManualClock) -> None:
    """The camera module's monotonic clock is ``clock`` (its capture stamps stay the box's wall clock)."""
    fake = types.SimpleNamespace(monotonic=clock_seconds(clock), time_ns=time.time_ns)
    monkeypatch.setattr(camera_module, "time", fake)


def test_realtime_file_is_paced_at_fps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = ManualClock()
    _manual_time(monkeypatch, clock)
    stop = AdvancingStop(clock)  # each pacing wait moves the clock on instead of sleeping
    src = CameraSource(_cfg(_video(tmp_path / "a.avi", 10), realtime=True, fps=50))
    frames = [p for p in _run(src, stop=stop) if isinstance(p, Frame)]
    assert len(frames) == 10
    assert stop.waits == 10 and stop.waited_s == pytest.approx(10 / 50)  # one 1/50 s wait after each frame


def test_latest_frame_policy_drops_and_counts(tmp_path: Path) -> None:
    src = CameraSource(_cfg(_video(tmp_path / "a.avi", 60), policy="latest"))
    got: list = []
    stop = threading.Event()

    def slow_emit(product) -> None:
        got.append(product)
        if isinstance(product, Frame) and sum(isinstance(p, Frame) for p in got) == 1:
            # a model slower than the camera: busy with the first frame while the camera reads all 60
            wait_until(lambda: src.stats()["frames_read"] == 60, 30, "the camera to read every frame")

    src.run(slow_emit, stop)
    frames = [p for p in got if isinstance(p, Frame)]
    s = src.stats()
    assert s["frames_read"] == 60
    assert s["frames_dropped"] > 0
    assert s["frames_emitted"] + s["frames_dropped"] == 60 == len(frames) + s["frames_dropped"]
    ids = [f.frame_id for f in frames]
    assert ids == sorted(ids) and ids[-1] == 59  # the newest frame is never lost


def test_truncated_file_counts_bad_frames_and_reports(tmp_path: Path) -> None:
    full = _video(tmp_path / "full.avi", 60).read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(full[: len(full) // 2])
    src = CameraSource(_cfg(cut, max_bad_reads=5))
    got = _run(src)
    frames = [p for p in got if isinstance(p, Frame)]
    assert 0 < len(frames) < 60
    s = src.stats()
    assert s["bad_frames"] >= 1 and "truncated" in (s["last_error"] or "")
    assert any(isinstance(p, HealthEvent) and p.status == "degraded" and "cut.avi" in p.message for p in got)


def test_corrupt_file_gives_clear_health_event_not_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "garbage.avi"
    bad.write_bytes(np.random.default_rng(1).integers(0, 255, 5000, dtype=np.uint8).tobytes())
    src = CameraSource(_cfg(bad, reconnect=False))
    got = _run(src)
    assert not any(isinstance(p, Frame) for p in got)
    down = [p for p in got if isinstance(p, HealthEvent) and p.status == "down"]
    assert down and "garbage.avi" in down[0].message and "cannot open" in down[0].message


class RecordingStop(threading.Event):
    """A stop event that records each ``wait(timeout)`` asked of it (the source's backoff) and waits no time."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        if timeout:
            self.waits.append(timeout)
        return self.is_set()


@pytest.mark.parametrize("url", ["/dev/video99", "rtsp://127.0.0.1:9/stream", "missing-file.mp4"])
def test_unreachable_source_reconnects_with_exponential_backoff(url: str) -> None:
    src = CameraSource(_cfg(url, backoff_initial_s=0.05, backoff_max_s=0.2, open_timeout_s=1))
    stop = RecordingStop()

    def five_downs(got) -> bool:
        return sum(isinstance(p, HealthEvent) and p.status == "down" for p in got) >= 5

    got = _run(src, stop_when=five_downs, stop=stop)
    down = [p for p in got if isinstance(p, HealthEvent)]
    assert len(down) >= 5 and all(p.status == "down" and url in p.message for p in down)
    assert stop.waits[:4] == [0.05, 0.1, 0.2, 0.2]  # the backoff between attempts doubles, capped at 0.2 s
    assert src.stats()["reconnects"] >= 4 and src.stats()["state"] == "stopped"


def test_consumer_exception_does_not_stop_the_camera(tmp_path: Path) -> None:
    src = CameraSource(_cfg(_video(tmp_path / "a.avi", 5)))
    seen: list = []

    def bad_emit(product) -> None:
        seen.append(product)
        raise RuntimeError("consumer bug")

    src.run(bad_emit, threading.Event())
    assert sum(isinstance(p, Frame) for p in seen) == 5
