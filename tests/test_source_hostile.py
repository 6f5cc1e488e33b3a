"""Sources against hostile input: every bad record is counted and skipped, and the source keeps going.

Each test here failed before the hardening (issue 16): the input named in it raised out of the decoder or
silenced the source for good.
"""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest
from rsu_sdk import RadarObject, RadarScan

from rsu.sources.air_station import MessageError, parse_message
from rsu.sources.ars408 import CycleAssembler, encode_cycle
from rsu.sources.bounds import ClockWindow
from rsu.sources.radar_udp import DatagramError, UdpRadarSource, parse_datagram
from rsu.sources.replay import ReplaySource, iter_camera
from rsu.sources.sensor_replay import SensorReplaySource
from support import SourceRun

T0 = 1_767_225_600_000_000_000
DEEP = b'{"schema": "rsu.radar-udp/1", "cycle": 1, "objects": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


def _objects(n: int) -> list[RadarObject]:
    return [RadarObject(object_id=i, dist_long=10.0 + i, dist_lat=0.0, vrel_long=-2.5, vrel_lat=0.0, rcs=5.0,
                        class_name="car", prob_exist=0.99, length=4.4, width=1.8, orientation_deg=0.0)
            for i in range(n)]


def _candump(frames: list, bad_after: dict[int, str] | None = None) -> str:
    lines = []
    for i, (t, aid, data) in enumerate(frames):
        lines.append(f"({t:.6f}) can0 {aid:03X}#{data.hex().upper()} R")
        if bad_after and i in bad_after:
            lines.append(bad_after[i])
    return "\n".join(lines) + "\n"


def _cycles(first: int, n: int, counters: list[int] | None = None) -> list:
    frames: list = []
    for k in range(n):
        counter = counters[k] if counters else first + k
        frames += encode_cycle(_objects(2), counter, T0 / 1e9 + 0.07 * k)
    return frames


# ------------------------------------------------------------------ CAN logs and the ARS408 assembler

def test_bad_lines_in_a_can_log_are_skipped_and_the_replay_goes_on(tmp_path: Path) -> None:
    frames = _cycles(1, 20)
    # python-can's reader died on the first of these ("not enough values to unpack")
    bad = {5: "(1767225600.1) can0", 40: "garbage", 41: "(nan) can0 60A#0200000000000000 R",
           60: "(1e300) can0 60B#00", 61: "(1767225600.2) can0 60B#0G", 80: "x" * 5000}
    (tmp_path / "radar.log").write_text(_candump(frames, bad))
    src = ReplaySource("r", tmp_path, speed=0, camera=False)
    got: list = []
    src.run(got.append, threading.Event())
    scans = [p for p in got if isinstance(p, RadarScan)]
    stats = src.stats()
    assert stats["bad_records"] == 6 and stats["log_errors"] == 0
    assert scans[-1].cycle == 20 and len(scans) >= 17  # only the cycles that lost a frame are missing


def test_a_truncated_gzip_log_keeps_what_was_read(tmp_path: Path) -> None:
    import gzip

    blob = gzip.compress(_candump(_cycles(1, 30)).encode())
    (tmp_path / "radar.log.gz").write_bytes(blob[: len(blob) * 2 // 3])
    src = ReplaySource("r", tmp_path, speed=0, camera=False)
    got: list = []
    src.run(got.append, threading.Event())
    assert src.stats()["log_errors"] == 1 and len(got) >= 5


def test_one_corrupt_cycle_counter_does_not_silence_the_radar() -> None:
    asm = CycleAssembler("r")
    counters = [100, 101, 20000] + list(range(102, 112))  # 20000: one corrupted counter
    out = [asm.feed(aid, data, t) for t, aid, data in _cycles(0, len(counters), counters)]
    got = [s.cycle for s in out if s is not None]
    assert got[:3] == [100, 101, 20000] and got[-1] == 111 and len(got) == len(counters) - 1
    assert asm.stats()["counter_resyncs"] == 1 and asm.stats()["out_of_order_cycles"] == 1


def test_a_restarted_sensor_counter_resynchronises() -> None:
    asm = CycleAssembler("r")
    counters = list(range(5000, 5005)) + list(range(0, 6))
    out = [asm.feed(aid, data, t) for t, aid, data in _cycles(0, len(counters), counters)]
    assert [s.cycle for s in out if s is not None] == [5000, 5001, 5002, 5003, 5004, 1, 2, 3, 4, 5]


@pytest.mark.parametrize("stamp", [float("nan"), float("inf"), -1.0, 1e300, None, "x"])
def test_a_bad_timestamp_is_counted_not_raised(stamp: object) -> None:
    asm = CycleAssembler("r")
    frames = encode_cycle(_objects(1), 1, 0.0) + encode_cycle(_objects(1), 2, 1767225600.0)
    out = [asm.feed(aid, data, stamp if aid == 0x60A and i == 0 else t) for i, (t, aid, data) in enumerate(frames)]
    assert [s.cycle for s in out if s is not None] == [2]
    assert asm.stats()["bad_timestamps"] + asm.stats()["decoder_errors"] == 1


# ------------------------------------------------------------------ UDP radar

def _dgram(cycle: int, t: int = T0, **obj: object) -> bytes:
    o = {"id": 3, "x": 21.4, "y": -1.6, **obj}
    return json.dumps({"schema": "rsu.radar-udp/1", "cycle": cycle, "t_event": t, "objects": [o]}).encode()


HOSTILE_DATAGRAMS = {
    "deep nesting": DEEP,
    "400-digit x": _dgram(1).replace(b"21.4", b"9" * 400),
    "5000-digit id": _dgram(1).replace(b'"id": 3', b'"id": ' + b"7" * 5000),
    "int64 max t_event": _dgram(1, t=2**63 - 1),
    "28-digit t_event": _dgram(1, t=10**27),
    "400-digit t_event": _dgram(1, t=10**400),  # found by hypothesis: the error message itself overflowed
    "1000-char class": _dgram(1, **{"class": "c" * 1000}),
    "x out of range": _dgram(1, x=1e6),
    "huge cycle": _dgram(2**40),
    "NaN": _dgram(1).replace(b"21.4", b"NaN"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_DATAGRAMS))
def test_hostile_datagram_is_a_named_rejection(name: str) -> None:
    with pytest.raises(DatagramError):
        parse_datagram(HOSTILE_DATAGRAMS[name], "r", T0, ClockWindow(60.0))


def test_hostile_datagrams_never_stop_the_udp_thread() -> None:
    src = UdpRadarSource("radar-9", port=0, silence_s=60, wall_ns=lambda: T0)
    run = SourceRun(src)
    assert src.ready.wait(30)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        for k, payload in enumerate(HOSTILE_DATAGRAMS.values()):
            tx.sendto(_dgram(k + 1), ("127.0.0.1", src.bound_port))
            tx.sendto(payload[:65000], ("127.0.0.1", src.bound_port))
        run.wait_for(lambda: src.stats()["datagrams"] >= 2 * len(HOSTILE_DATAGRAMS), 60, "every datagram read")
    run.close()  # the thread is alive and still stops when told
    got = run.out
    assert [p.cycle for p in got if isinstance(p, RadarScan)] == list(range(1, len(HOSTILE_DATAGRAMS) + 1))
    assert src.stats()["bad_datagrams"] == len(HOSTILE_DATAGRAMS)


def test_udp_cycle_counter_resynchronises_after_a_corrupt_one() -> None:
    src = UdpRadarSource("r", port=0, wall_ns=lambda: T0)
    kept = [s.cycle for c in (1, 2, 2**30, 3, 4, 5) if (s := src.handle(_dgram(c))) is not None]
    assert kept == [1, 2, 2**30, 4, 5] and src.stats()["counter_resyncs"] == 1


def test_event_times_far_from_the_box_clock_are_rejected_and_near_future_clamped() -> None:
    window = ClockWindow(60.0, wall_ns=lambda: T0)
    src = UdpRadarSource("r", port=0, max_clock_skew_s=60.0, wall_ns=lambda: T0)
    assert src.handle(_dgram(1, t=T0 - 61 * 10**9)) is None and src.handle(_dgram(2, t=T0 + 61 * 10**9)) is None
    ahead = src.handle(_dgram(3, t=T0 + 2 * 10**9))
    assert ahead is not None and ahead.t_event_ns == T0  # never ahead of the box clock
    assert src.stats()["time_rejected"] == 2 and src.stats()["time_clamped"] == 1
    assert window.check(T0 - 10**9) == T0 - 10**9


# ------------------------------------------------------------------ air-station messages

@pytest.mark.parametrize("payload, words", [
    (b'{"pm2_5": 1, "x": ' + b"[" * 30_000 + b"]" * 30_000 + b"}", "nested deeper"),
    (b'{"pm2_5": 1, "t": 1e300}', "outside"),
    (b'{"pm2_5": 1, "t_ns": 1234567890123456789012345678}', "outside"),
    (b'{"pm2_5": 1, "t_ns": 9223372036854775807}', "outside"),
    (b'{"pm2_5": 1, "station": "' + b"s" * 1000 + b'"}', "station"),
    (b'{"pm2_5": ' + b"9" * 5000 + b"}", "not UTF-8 JSON|finite"),
    (b'{"pm2_5": 1}' + b" " * 70_000, "bytes"),
])
def test_hostile_air_station_message_is_a_named_rejection(payload: bytes, words: str) -> None:
    with pytest.raises(MessageError, match=words):
        parse_message(payload, source="s", default_station="aq", received_ns=T0, window=ClockWindow(60.0))


def test_air_station_event_time_window() -> None:
    w = ClockWindow(60.0)
    ok = parse_message(b'{"pm2_5": 1, "t": 1767225590.5}', source="s", default_station="aq", received_ns=T0, window=w)
    assert ok.t_event_ns == T0 - 9_500_000_000
    with pytest.raises(MessageError, match="behind the box clock"):
        parse_message(b'{"pm2_5": 1, "t": 1000}', source="s", default_station="aq", received_ns=T0, window=w)


# ------------------------------------------------------------------ recorded readings and detections

def test_sensor_replay_survives_hostile_rows(tmp_path: Path) -> None:
    f = tmp_path / "r.jsonl"
    good = [json.dumps({"t_event_ns": T0 + i * 10**9, "device": "d", "values": {"x": float(i)}}) for i in range(4)]
    bad = ['{"t_event_ns": 1, "device": "d", "values": {"x": ' + "9" * 400 + "}}",  # OverflowError before
           '{"t_event_ns": 1, "device": "d", "values": ' + "[" * 50_000 + "]" * 50_000 + "}",  # RecursionError
           json.dumps({"t_event_ns": 10**27, "device": "d", "values": {"x": 1}}),
           json.dumps({"t_event_ns": T0, "device": "d" * 1000, "values": {"x": 1}}),
           json.dumps({"t_event_ns": T0, "device": "d", "values": {"x": float("nan")}})]
    f.write_text("\n".join([good[0], *bad, *good[1:]]) + "\n")
    src = SensorReplaySource("s", f, speed=0)
    got: list = []
    src.run(got.append, threading.Event())
    assert [r.values["x"] for r in got] == [0.0, 1.0, 2.0, 3.0] and src.stats()["bad_rows"] == len(bad)
    assert src.stats()["error"] is None


def test_camera_lines_with_absurd_times_are_bad_lines(tmp_path: Path) -> None:
    line = {"kind": "detections", "source": "cam", "t_event": T0, "frame_id": 1, "image_size": [640, 480],
            "class_names": ["car"], "xyxy": [[1, 2, 3, 4]], "confidence": [0.5], "class_id": [0]}
    rows = [json.dumps(line), json.dumps(line).replace(str(T0), "1e400"), json.dumps(line).replace(str(T0), "NaN"),
            json.dumps({**line, "t_event": 10**27}), "[" * 50_000, json.dumps({**line, "t_event": T0 + 1})]
    (tmp_path / "camera.jsonl").write_text("\n".join(rows) + "\n")
    counts: dict[str, int] = {}
    assert [d.t_event_ns for d in iter_camera(tmp_path, counts)] == [T0, T0 + 1] and counts["bad_lines"] == 4


def test_ars408_bus_cycles_far_from_the_box_clock_are_dropped() -> None:
    import can

    from rsu.sources.ars408 import Ars408Source

    src = Ars408Source("r", interface="virtual", channel="unused", wall_ns=lambda: T0)

    def cycle(counter: int, t_s: float | None) -> list:
        frames = encode_cycle(_objects(1), counter, 0)
        msgs = [can.Message(timestamp=t_s if i == 0 and t_s is not None else 0.0, arbitration_id=aid, data=data,
                            is_extended_id=False) for i, (_, aid, data) in enumerate(frames)]
        return [s for m in msgs if (s := src.handle(m)) is not None]

    assert cycle(1, T0 / 1e9 + 3600) == []  # an hour ahead: rejected
    assert [s.t_event_ns for s in cycle(2, T0 / 1e9 + 5)] == [T0]  # a little ahead: stamped with the box clock
    assert [s.t_event_ns for s in cycle(3, None)] == [T0]  # no hardware stamp: the box clock
    assert [s.t_event_ns for s in cycle(4, float("nan"))] == [T0]
    assert src.stats()["time_rejected"] == 1 and src.stats()["time_clamped"] == 1
