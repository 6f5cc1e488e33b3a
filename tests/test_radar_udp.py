"""The UDP radar source on 127.0.0.1: good and bad datagrams, out-of-order cycles, silence."""

from __future__ import annotations

import json
import socket

from rsu_sdk import HealthEvent, RadarScan

from rsu.sources.radar_udp import DatagramError, UdpRadarSource, parse_datagram
from support import SourceRun


T0 = 1_767_225_600_000_000_000


def _dgram(cycle: int, **extra: object) -> bytes:
    doc = {"schema": "rsu.radar-udp/1", "cycle": cycle, "t_event": T0 + cycle,
           "objects": [{"id": 3, "x": 21.4, "y": -1.6, "vx": -8.25, "class": "car", "prob_exist": 0.99}]}
    doc.update(extra)
    return json.dumps(doc).encode()


def test_parse_names_the_bad_field() -> None:
    scan = parse_datagram(_dgram(1), "r", 5)
    assert scan.objects[0].dist_long == 21.4 and scan.objects[0].vrel_lat == 0.0
    for payload, where in ((b"\xff\xfe", "UTF-8"), (b"[1]", "JSON object"), (_dgram(1, schema="x"), "schema"),
                           (_dgram(-1), "cycle"), (_dgram(1, objects=[{"id": 1, "x": "a", "y": 0}]), "objects[0].x"),
                           (_dgram(1, objects=[{"id": 1, "x": 1.0}]), "objects[0].y")):
        try:
            parse_datagram(payload, "r", 5)
        except DatagramError as exc:
            assert where in str(exc)
        else:
            raise AssertionError(f"accepted {payload!r}")


def test_udp_source_good_bad_out_of_order_and_silence() -> None:
    src = UdpRadarSource("radar-2", host="127.0.0.1", port=0, silence_s=0.3, wall_ns=lambda: T0 + 10**9)
    run = SourceRun(src)
    assert src.ready.wait(30)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        for payload in (_dgram(1), b"not json", _dgram(2, schema="other/1"), b"", _dgram(3), _dgram(2)):
            tx.sendto(payload, ("127.0.0.1", src.bound_port))
        run.wait_for(lambda: run.of(HealthEvent), 30, "the silence health event")
    run.close()
    got = run.out
    scans = [p for p in got if isinstance(p, RadarScan)]
    assert [s.cycle for s in scans] == [1, 3]
    assert scans[0].source == "radar-2" and scans[0].t_event_ns == 1_767_225_600_000_000_001
    stats = src.stats()
    assert stats["bad_datagrams"] == 3 and stats["out_of_order_cycles"] == 1 and stats["cycles"] == 2
    assert [p.status for p in got if isinstance(p, HealthEvent)] == ["down"]
