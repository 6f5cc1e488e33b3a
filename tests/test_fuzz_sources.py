"""Property tests (hypothesis) of every source decoder: on any input each either decodes a value inside its
ranges or rejects with its own documented error - nothing else escapes."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from rsu.sources.air_station.message import MessageError, parse_message
from rsu.sources.ars408 import CycleAssembler, encode_cycle
from rsu.sources.ars408 import layout as L
from rsu.sources.bounds import ClockWindow, InputRangeError, load_json_object
from rsu.sources.canlog import CanLogError, parse_candump_line
from rsu.sources.radar_udp import DatagramError, parse_datagram
from rsu.sources.replay import parse_camera_line
from rsu.sources.sensor_replay import parse_reading
from rsu.sources.sequence import CounterGuard
from rsu.sources.timeline import ReplayTimeline

FUZZ = settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])
T_BOX = 1_767_225_600_000_000_000
IDS = (0x60A, 0x60B, 0x60C, 0x60D, 0x201)

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
json_values = st.recursive(json_scalars, lambda kids: st.lists(kids, max_size=5)
                           | st.dictionaries(st.text(max_size=10), kids, max_size=5), max_leaves=30)
hostile_numbers = st.sampled_from([10**27, 2**63, 2**63 - 1, -(2**63), 10**400, float("nan"), float("inf"), 1e300,
                                   -1, 0, True, "1", None, [], {}])


def _dumps(doc: object) -> bytes:
    return json.dumps(doc, allow_nan=True).encode()


# ------------------------------------------------------------------ ARS408

@FUZZ
@given(st.sampled_from(IDS) | st.integers(0, 0x7FF), st.binary(max_size=12))
def test_decode_frame_is_in_range_or_a_frame_error(aid: int, data: bytes) -> None:
    try:
        msg = L.decode_frame(aid, data)
    except L.FrameError:
        assert len(data) < L.MIN_DLC[aid]
        return
    if isinstance(msg, L.ObjGeneral):
        assert -500 <= msg.dist_long <= 1138.2 and -204.6 <= msg.dist_lat <= 204.8 and 0 <= msg.object_id < 256
        assert -128 <= msg.vrel_long <= 127.75 and -64 <= msg.rcs <= 63.5
    elif isinstance(msg, L.ObjExtended):
        assert msg.class_name in L.CLASS_NAMES and 0 <= msg.length <= 51 and -180 <= msg.orientation_deg <= 229.2
    elif isinstance(msg, L.ObjQuality):
        assert 0 <= msg.prob_exist <= 1


@FUZZ
@given(st.integers(0, 255), st.floats(-500, 1138.2), st.floats(-204.6, 204.8), st.floats(-128, 127.75),
       st.floats(-64, 63.75), st.integers(0, 7), st.floats(-64, 63.5))
def test_general_frame_round_trip(oid: int, dl: float, dlat: float, vl: float, vlat: float, dyn: int,
                                  rcs: float) -> None:
    msg = L.decode_frame(0x60B, L.encode_general(oid, dl, dlat, vl, vlat, dyn, rcs))
    assert msg.object_id == oid and msg.dyn_prop == dyn
    assert abs(msg.dist_long - dl) <= 0.1 + 1e-9 and abs(msg.dist_lat - dlat) <= 0.1 + 1e-9
    assert abs(msg.vrel_long - vl) <= 0.125 + 1e-9 and abs(msg.rcs - rcs) <= 0.25 + 1e-9


frames = st.lists(st.tuples(st.sampled_from(IDS) | st.integers(0, 0x7FF), st.binary(max_size=8),
                            st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([1767225600.0, None]),
                            st.booleans(), st.booleans()), max_size=60)


@FUZZ
@given(frames)
def test_assembler_never_raises_and_emits_only_sane_cycles(stream: list) -> None:
    asm = CycleAssembler("r")
    for aid, data, ts, err, ext in stream:
        scan = asm.feed(aid, data, ts, is_error=err and aid == 0x60B, is_extended_id=ext and aid == 0x201)
        if scan is not None:
            assert 0 <= scan.t_event_ns <= 4_102_444_800 * 10**9 and len(scan.objects) <= 255
    asm.flush()
    stats = asm.stats()
    assert stats["decoder_errors"] == 0 and stats["frames"] == len(stream)


@FUZZ
@given(st.lists(st.integers(0, 65535), max_size=20), st.integers(0, 65535), st.integers(3, 12))
def test_any_history_of_counters_resynchronises(garbage: list[int], start: int, n: int) -> None:
    guard = CounterGuard(65536)
    for c in garbage:
        guard.accept(c)
    accepted = [guard.accept((start + k) % 65536) for k in range(n)]
    assert all(accepted[2:])  # after at most two cycles the sequence is followed again


@FUZZ
@given(st.lists(st.integers(0, 65535), min_size=1, max_size=8), st.integers(1, 5))
def test_encoded_cycles_with_forward_counters_all_come_out(steps: list[int], n: int) -> None:
    from rsu_sdk import RadarObject

    objs = [RadarObject(object_id=i, dist_long=5.0 + i, dist_lat=0.0, vrel_long=0.0, vrel_lat=0.0, rcs=0.0,
                        class_name="car", prob_exist=1.0, length=4.0, width=2.0, orientation_deg=0.0)
            for i in range(n)]
    asm, counter, out = CycleAssembler("r"), 0, []
    for k, step in enumerate(steps):
        counter = (counter + 1 + step % 1000) % 65536
        for t, aid, data in encode_cycle(objs, counter, 1767225600.0 + 0.07 * k):
            if (s := asm.feed(aid, data, t)) is not None:
                out.append(s)
    assert len(out) == len(steps) and all(len(s.objects) == n for s in out)


# ------------------------------------------------------------------ CAN log lines

@FUZZ
@given(st.text(max_size=200))
def test_candump_line_parses_or_is_rejected(line: str) -> None:
    try:
        rec = parse_candump_line(line)
    except CanLogError:
        return
    assert math.isfinite(rec.timestamp) and len(rec.data) <= 64 and 0 <= rec.arbitration_id <= 0x1FFFFFFF


@FUZZ
@given(st.floats(0, 4e9), st.integers(0, 0x7FF), st.binary(max_size=8), st.sampled_from(["", " R", " T"]))
def test_candump_line_round_trip(ts: float, aid: int, data: bytes, suffix: str) -> None:
    rec = parse_candump_line(f"({ts:.6f}) can0 {aid:03X}#{data.hex()}{suffix}\n")
    assert (rec.arbitration_id, rec.data, rec.is_extended_id) == (aid, data, False)
    assert abs(rec.timestamp - ts) <= 1e-6 * max(1.0, ts) and rec.channel == "can0"


# ------------------------------------------------------------------ UDP radar and air-station messages

def _in_window(t: int) -> None:
    assert T_BOX - 60 * 10**9 <= t <= T_BOX


@FUZZ
@given(st.binary(max_size=300) | json_values.map(_dumps))
def test_udp_datagram_any_bytes(payload: bytes) -> None:
    try:
        scan = parse_datagram(payload, "r", T_BOX, ClockWindow(60.0))
    except DatagramError as exc:
        assert "bad datagram:" not in str(exc), exc  # an unexpected exception behind the safety net
        return
    _in_window(scan.t_event_ns)


obj = st.fixed_dictionaries({"id": st.integers(0, 2**32 - 1) | hostile_numbers, "x": st.floats(-3000, 3000),
                             "y": st.floats(-2000, 2000) | hostile_numbers},
                            optional={"vx": st.floats(-250, 250), "class": st.text(max_size=40),
                                      "prob_exist": st.floats(-0.5, 1.5), "length": hostile_numbers})


@FUZZ
@given(st.integers(-5, 2**33) | hostile_numbers,
       st.integers(T_BOX - 100 * 10**9, T_BOX + 100 * 10**9) | hostile_numbers, st.lists(obj, max_size=4))
def test_udp_datagram_hostile_fields(cycle: object, t: object, objects: list) -> None:
    payload = _dumps({"schema": "rsu.radar-udp/1", "cycle": cycle, "t_event": t, "objects": objects})
    try:
        scan = parse_datagram(payload, "r", T_BOX, ClockWindow(60.0))
    except DatagramError as exc:
        assert "bad datagram:" not in str(exc), exc
        return
    _in_window(scan.t_event_ns)
    assert 0 <= scan.cycle < 2**32 and all(abs(o.dist_long) <= 2000 and 0 <= o.object_id < 2**32 for o in scan.objects)


@FUZZ
@given(st.binary(max_size=300) | json_values.map(_dumps)
       | st.dictionaries(st.sampled_from(["station", "t", "t_ns", "pm2_5", "pm10", "schema", "humidity_pct"]),
                         hostile_numbers | st.floats() | st.text(max_size=80), max_size=6).map(_dumps))
def test_air_station_message_any_input(payload: bytes) -> None:
    try:
        r = parse_message(payload, source="s", default_station="aq", received_ns=T_BOX, window=ClockWindow(60.0))
    except MessageError as exc:
        assert "bad message:" not in str(exc), exc
        return
    _in_window(r.t_event_ns)
    assert 0 < len(r.device) <= 64 and all(math.isfinite(v) for v in r.values.values())


@FUZZ
@given(st.integers(1, 3000))
def test_nesting_depth_is_a_rejection_at_any_depth(depth: int) -> None:
    payload = "[" * depth + "]" * depth
    with pytest.raises(InputRangeError):
        load_json_object('{"a": ' + payload + "}" if depth > 7 else payload, max_bytes=1 << 16)


# ------------------------------------------------------------------ recordings

@FUZZ
@given(st.binary(max_size=300) | json_values.map(_dumps)
       | st.fixed_dictionaries({"source": st.text(max_size=5), "t_event": hostile_numbers, "frame_id": hostile_numbers,
                                "image_size": json_values, "class_names": json_values, "xyxy": json_values,
                                "confidence": json_values, "class_id": json_values}).map(_dumps))
def test_camera_line_any_input(line: bytes) -> None:
    try:
        d = parse_camera_line(line)
    except ValueError:
        return
    assert 0 <= d.t_event_ns <= 4_102_444_800 * 10**9


@FUZZ
@given(hostile_numbers | st.integers(), json_values, json_values, json_values)
def test_sensor_reading_any_fields(t: object, device: object, values: object, units: object) -> None:
    try:
        r = parse_reading("s", t, device, values, units)
    except InputRangeError:
        return
    assert all(math.isfinite(v) and abs(v) <= 1e12 for v in r.values.values()) and len(r.device) <= 64


@FUZZ
@given(st.lists(st.integers(0, 4_102_444_800 * 10**9), max_size=40), st.sampled_from([0.0, 1.0, 20.0]),
       st.booleans())
def test_timeline_never_publishes_ahead_of_the_clock(times: list[int], speed: float, rebase: bool) -> None:
    clock = {"ns": T_BOX}
    tl = ReplayTimeline(speed=speed, rebase=rebase, wall_ns=lambda: clock["ns"],
                        monotonic=lambda: (clock["ns"] - T_BOX) / 1e9)
    tl.begin_pass()
    published = []
    for t in tl.filter(times, lambda t: t):
        due = tl.due(t)
        if due is not None:
            clock["ns"] = max(clock["ns"], T_BOX + int(min(due, 1e6) * 1e9))
        published.append(tl.stamp(t))
        assert published[-1] <= clock["ns"]
    assume(published)
    if rebase:
        assert published == sorted(published)
