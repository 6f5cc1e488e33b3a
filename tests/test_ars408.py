"""ARS408 decoding (exact scaling on hand-built frames), cycle assembly, bad input, and a real virtual bus."""

from __future__ import annotations

import threading
import time

import can
import pytest

from rsu_sdk import HealthEvent, RadarObject, RadarScan

from rsu.sources.ars408 import Ars408Source, CycleAssembler, encode_cycle
from rsu.sources.ars408 import layout as L
from support import SourceRun


def test_general_frame_exact_scaling() -> None:
    # ID 5; DistLong raw 2550 -> 10.0 m; DistLat raw 1006 -> -3.4 m; VrelLong raw 521 -> 2.25 m/s;
    # VrelLat raw 250 -> -1.5 m/s; DynProp 2; RCS raw 143 -> 7.5 dBm2
    w = (5 << 56) | (2550 << 43) | (1006 << 32) | (521 << 22) | (250 << 13) | (2 << 8) | 143
    msg = L.decode_frame(0x60B, w.to_bytes(8, "big"))
    assert msg == L.ObjGeneral(5, 10.0, -3.4, 2.25, -1.5, 2, 7.5)
    # the extremes of the ranges
    assert L.decode_frame(0x60B, bytes(8)) == L.ObjGeneral(0, -500.0, -204.6, -128.0, -64.0, 0, -64.0)


def test_extended_quality_status_state_frames() -> None:
    # ArelLong raw 1100 -> 1.0; ArelLat raw 200 -> -0.5; class 3 pedestrian; orientation raw 675 -> 90.0 deg
    w = (7 << 56) | (1100 << 45) | (200 << 36) | (3 << 32) | (675 << 22) | (22 << 8) | 9
    ext = L.decode_frame(0x60D, w.to_bytes(8, "big"))
    assert ext == L.ObjExtended(7, 1.0, -0.5, 3, 90.0, 4.4, 1.8)
    assert ext.class_name == "pedestrian"
    q = L.decode_frame(0x60C, bytes([7, 0, 0, 0, 0, 0, 0b110_010_00]))
    assert q.prob_exist_code == 6 and q.prob_exist == 0.999 and q.meas_state == 2
    st = L.decode_frame(0x60A, bytes([12, 0x01, 0x02, 0x40]))
    assert st == L.ObjStatus(12, 258, 4)
    state = L.decode_frame(0x201, L.encode_state(max_distance_m=250, sensor_id=3, send_quality=False))
    assert state.max_distance_m == 250 and state.sensor_id == 3 and not state.send_quality and state.send_ext_info


def test_encode_decode_round_trip_on_sensor_steps() -> None:
    data = L.encode_general(9, 123.4, -7.2, -3.75, 0.5, 1, -12.5)
    assert L.decode_frame(0x60B, data) == L.ObjGeneral(9, 123.4, -7.2, -3.75, 0.5, 1, -12.5)


def _objects(n: int) -> list[RadarObject]:
    return [RadarObject(object_id=i, dist_long=10.0 + i, dist_lat=-1.0 + 0.2 * i, vrel_long=-2.5, vrel_lat=0.25,
                        rcs=5.0, class_name="car", prob_exist=0.99, length=4.4, width=1.8, orientation_deg=0.0)
            for i in range(n)]


def _feed(asm: CycleAssembler, frames: list) -> list[RadarScan]:
    out = [asm.feed(aid, data, t) for t, aid, data in frames]
    return [s for s in out if s is not None]


def test_cycle_assembly_emits_complete_cycles_with_their_time() -> None:
    asm = CycleAssembler("radar-1")
    scans = _feed(asm, encode_cycle(_objects(3), 41, 1767225600.07) + encode_cycle(_objects(2), 42, 1767225600.14))
    assert [s.cycle for s in scans] == [41, 42]
    assert scans[0].t_event_ns == 1_767_225_600_070_000_000
    first = scans[0].objects[1]
    assert (first.dist_long, first.dist_lat, first.vrel_long, first.class_name, first.prob_exist, first.length) == (
        11.0, -0.8, -2.5, "car", 0.99, 4.4)
    assert asm.stats()["cycles"] == 2 and asm.stats()["bad_frames"] == 0


def test_bad_truncated_unknown_and_out_of_order_are_counted() -> None:
    asm = CycleAssembler("r")
    frames = encode_cycle(_objects(2), 10, 1.0)
    frames[1] = (frames[1][0], frames[1][1], frames[1][2][:5])  # truncated 0x60B
    scans = _feed(asm, frames)
    scans += _feed(asm, [(1.01, 0x123, b"\x01\x02")])  # unknown id
    scans += _feed(asm, [(1.02, 0x60C, bytes(7))])  # object frame outside any cycle
    scans += _feed(asm, encode_cycle(_objects(1), 11, 1.07))
    scans += _feed(asm, encode_cycle(_objects(1), 9, 1.14))  # older counter
    scans += _feed(asm, encode_cycle(_objects(1), 12, 1.21))
    c = asm.stats()
    assert [s.cycle for s in scans] == [11, 12]
    assert c["bad_frames"] == 1 and c["unknown_ids"] == 1 and c["incomplete_cycles"] == 1
    assert c["out_of_order_cycles"] == 1 and c["orphan_frames"] >= 1 and c["skipped_frames"] == 3
    assert asm.feed(0x60B, b"", 2.0) is None  # empty payload: counted, no crash
    assert asm.stats()["bad_frames"] == 2


def test_radar_state_turns_off_expected_frames() -> None:
    asm = CycleAssembler("r")
    asm.feed(0x201, L.encode_state(send_quality=False, send_ext_info=False), 0.5)
    scans = _feed(asm, encode_cycle(_objects(2), 1, 1.0, quality=False, extended=False))
    assert len(scans) == 1 and scans[0].objects[0].class_name == "unknown"


def test_virtual_bus_round_trip_and_silence_health() -> None:
    channel = f"ars408-test-{time.monotonic_ns()}"
    source = Ars408Source("radar-1", interface="virtual", channel=channel, silence_s=0.3)
    opened = threading.Event()  # a virtual bus hears only what is sent after it opened: send once it has
    open_bus = source._open

    def _open():  # noqa: ANN202
        bus = open_bus()
        opened.set()
        return bus

    source._open = _open
    run = SourceRun(source)
    with can.Bus(interface="virtual", channel=channel) as bus:
        assert opened.wait(30), "the source never opened its bus"
        for t, aid, data in encode_cycle(_objects(4), 77, time.time()):
            bus.send(can.Message(arbitration_id=aid, data=data, is_extended_id=False))
        bus.send(can.Message(arbitration_id=0x60B, data=b"\x01", is_extended_id=False))
        run.wait_for(lambda: run.of(HealthEvent), 30, "the silence health event")
    run.close()
    got = run.out
    scans = [p for p in got if isinstance(p, RadarScan)]
    assert len(scans) == 1 and scans[0].cycle == 77 and len(scans[0].objects) == 4
    assert scans[0].objects[3].dist_long == 13.0
    health = [p for p in got if isinstance(p, HealthEvent)]
    assert health and health[0].status == "down" and health[0].component == "source:radar-1"
    assert source.stats()["orphan_frames"] == 1 or source.stats()["bad_frames"] == 1


def test_unopenable_bus_backs_off_without_raising() -> None:
    source = Ars408Source("r", interface="no-such-interface", channel="x", backoff_s=(0.01, 0.02))
    run = SourceRun(source)
    run.wait_for(lambda: source.stats()["reconnects"] >= 2, 30, "two reconnects")
    run.close()  # run() returned: it never raised
    got = run.out
    assert source.stats()["reconnects"] >= 2
    assert [p.status for p in got if isinstance(p, HealthEvent)] == ["down"]


@pytest.mark.parametrize("value", [-500.0, 0.0, 1138.0])
def test_dist_long_range(value: float) -> None:
    assert L.decode_frame(0x60B, L.encode_general(1, value, 0.0)).dist_long == value
