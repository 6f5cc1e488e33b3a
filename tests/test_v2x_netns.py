"""On the air, between two network namespaces joined by a veth: the box sends CPMs (traffic_broadcast, ethernet
radio) and DENM-kind frames on one end; tshark captures on the other end and dissects GeoNetworking and BTP-B;
the captured CPM payloads decode with the official ETSI modules field by field; a neighbour on the far end
sends good and malformed GN frames, which the box counts. Needs root, ``ip`` and ``tshark``; nothing leaves
the two namespaces this test creates (and removes)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rsu_sdk import SiteInfo
from rsu_sdk.v2x import GnAddress, parse_ethernet, read_pcap

pytestmark = [
    pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="network namespaces need root"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="iproute2 `ip` not installed"),
    pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed (apt-get install tshark)"),
]

SITE = SiteInfo(name="netns-site", lat=48.1372281, lon=11.5754669, alt=520.0)
STATION_ID = 0x0A0B0C0D
NEIGHBOUR_ID = 99
TIMEOUT_S = 180

BOX = r'''
import json, sys
sys.path.insert(0, sys.argv[6])  # tests/: support.wait_until
from support import wait_until
from rsu_sdk import ObjectList, SiteInfo
from rsu_sdk.testing import make_fused_object, run_plugin
from rsu_sdk.v2x import CircularArea, Radio
from rsu_traffic_broadcast.plugin import TrafficBroadcast

interface, station, neighbours = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
site = SiteInfo(**json.loads(sys.argv[4]))
cycles = json.loads(sys.argv[5])
radio = Radio({"mode": "ethernet", "interface": interface}, station_id=station, lat=site.lat, lon=site.lon)
print("ready", flush=True)
inputs = [ObjectList(source="fusion", t_event_ns=t, objects=tuple(
    make_fused_object(i + 1, position_enu=tuple(p), class_name=c) for i, (p, c) in enumerate(objs)))
    for t, objs in cycles]
config = {"station_id": station, "radio": {"mode": "ethernet", "interface": interface}}
run = run_plugin(TrafficBroadcast, inputs, config=config, site=site, name="traffic_broadcast")
for k in range(2):
    radio.send(bytes([2, 1]) + bytes(20), kind="denm",
               destination_area=CircularArea(lat=site.lat, lon=site.lon, radius_m=500 + k))
sys.stdin.readline()  # the test says when the neighbour has sent everything
try:  # until the radio's receive thread has counted every frame the neighbour sent
    wait_until(lambda: (lambda got: got["packets"] + got["malformed"] >= neighbours)(radio.stats()["received"]),
               60, "the neighbour's frames at the box's radio", interval=0.05)
except AssertionError:
    pass  # the report says what did arrive; the test's assertions name what is missing
radio.close()
print(json.dumps({"cpm": [m.body.hex() for m in run.messages("v2x/cpm")], "radio": radio.stats(),
                  "plugin_radio": run.plugin.stats()["radios"][0]}), flush=True)
'''

NEIGHBOUR = r'''
import socket, struct, sys
from rsu_sdk.v2x import GnAddress, LongPositionVector, ethernet_frame, frame_gn
interface, station = sys.argv[1], int(sys.argv[2])
address = GnAddress.from_station_id(station)
good = frame_gn(b"\x02\x0e", source=LongPositionVector(address=address, lat=48.0, lon=11.0), btp_port=2009)
bad = [good[:10], bytes([0x31]) + good[1:], good[:8] + struct.pack("!H", 999) + good[10:]]
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x8947))
sock.bind((interface, 0x8947))
for packet in [good, bad[0], good, bad[1], good, bad[2]]:
    sock.send(ethernet_frame(packet, source_mac=address.mid))
sock.close()
'''


@dataclass(frozen=True)
class Veth:
    """Two namespaces and the veth ends in them."""

    ns_box: str
    ns_far: str
    if_box: str
    if_far: str


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=60)


@pytest.fixture
def veth() -> Iterator[Veth]:
    tag = f"{os.getpid() % 100_000}"
    pair = Veth(ns_box=f"rsu-v2x-box-{tag}", ns_far=f"rsu-v2x-far-{tag}", if_box=f"rvbox{tag}", if_far=f"rvfar{tag}")
    created: list[str] = []
    try:
        for ns in (pair.ns_box, pair.ns_far):
            try:
                _ip("netns", "add", ns)
            except subprocess.CalledProcessError as exc:
                pytest.skip(f"`ip netns add` is not allowed here: {exc.stderr.strip()}")
            created.append(ns)
        _ip("link", "add", pair.if_box, "type", "veth", "peer", "name", pair.if_far)
        _ip("link", "set", pair.if_box, "netns", pair.ns_box)
        _ip("link", "set", pair.if_far, "netns", pair.ns_far)
        _ip("-n", pair.ns_box, "link", "set", pair.if_box, "up")
        _ip("-n", pair.ns_far, "link", "set", pair.if_far, "up")
        yield pair
    finally:
        for ns in created:  # removing a namespace removes its veth end, and with it the pair
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=60)
        subprocess.run(["ip", "link", "del", pair.if_box], capture_output=True, timeout=60)


def _cycles() -> list[tuple[int, list]]:
    """Eight fusion cycles, 100 ms apart, with cars, pedestrians and motorcycles moving East."""
    t0 = 1_790_000_000_000_000_000
    classes = ("car", "pedestrian", "motorcycle", "truck", "bicycle")
    return [(t0 + k * 100_000_000, [[(8.0 * i + 1.5 * k, 3.0 * (i % 3), 0.0), classes[i % 5]] for i in range(6)])
            for k in range(8)]


def _official() -> object:
    """cpm_helpers of the traffic_broadcast tests (the official modules, compiled with the documented fix)."""
    path = Path(__file__).resolve().parents[1] / "plugins" / "traffic_broadcast" / "tests" / "cpm_helpers.py"
    spec = importlib.util.spec_from_file_location("tb_cpm_helpers", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not (module.OFFICIAL_DIR / "CPM-PDU-Descriptions.asn").is_file():
        pytest.skip(f"official ETSI CPM ASN.1 not found at {module.OFFICIAL_DIR}")
    return module


def _expected_cpm_count(cycles: list) -> int:
    from rsu_sdk import ObjectList
    from rsu_sdk.testing import make_fused_object, run_plugin
    from rsu_traffic_broadcast.plugin import TrafficBroadcast

    inputs = [ObjectList(source="fusion", t_event_ns=t, objects=tuple(
        make_fused_object(i + 1, position_enu=tuple(p), class_name=c) for i, (p, c) in enumerate(objs)))
        for t, objs in cycles]
    return len(run_plugin(TrafficBroadcast, inputs, config={"station_id": STATION_ID}, site=SITE).messages("v2x/cpm"))


def _start_tshark(veth: Veth, out: Path, count: int) -> subprocess.Popen[str]:
    box_mac = str(GnAddress.from_station_id(STATION_ID))
    proc = subprocess.Popen(["ip", "netns", "exec", veth.ns_far, "tshark", "-i", veth.if_far, "-F", "pcap", "-w",
                             str(out), "-c", str(count), "-a", f"duration:{TIMEOUT_S}",
                             "-f", f"ether proto 0x8947 and ether src {box_mac}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    ready = threading.Event()
    lines: list[str] = []

    def watch() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if "Capturing on" in line:
                ready.set()
        ready.set()

    threading.Thread(target=watch, daemon=True).start()
    assert ready.wait(TIMEOUT_S) and proc.poll() is None, "tshark did not start: " + "".join(lines)
    return proc


def _dissect(pcap: Path) -> list[dict[str, str]]:
    fields = ["geonw.bh.version", "geonw.bh.nh", "geonw.ch.nh", "geonw.ch.htype", "geonw.ch.plength",
              "btpb.dstport", "geonw.src_pos.addr.mid", "geonw.src_pos.addr.type", "geonw.src_pos.lat",
              "geonw.src_pos.long", "geonw.gxc.latitude", "geonw.gxc.longitude", "geonw.gxc.radius"]
    args = ["tshark", "-r", str(pcap), "-T", "fields", "-E", "separator=|"]
    for f in fields:
        args += ["-e", f]
    out = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT_S, check=True).stdout
    return [dict(zip(fields, line.split("|"))) for line in out.splitlines() if line.strip()]


def test_box_frames_on_the_air_dissect_in_tshark(veth: Veth, tmp_path: Path) -> None:
    helpers = _official()
    official = helpers.compile_official(tmp_path)
    cycles = _cycles()
    n_cpm = _expected_cpm_count(cycles)
    assert n_cpm >= 2
    (tmp_path / "box.py").write_text(BOX)
    (tmp_path / "neighbour.py").write_text(NEIGHBOUR)
    pcap = tmp_path / "air.pcap"
    tshark = _start_tshark(veth, pcap, n_cpm + 2)
    site = {"name": SITE.name, "lat": SITE.lat, "lon": SITE.lon, "alt": SITE.alt}
    box = subprocess.Popen(["ip", "netns", "exec", veth.ns_box, sys.executable, str(tmp_path / "box.py"),
                            veth.if_box, str(STATION_ID), "6", json.dumps(site), json.dumps(cycles),
                            str(Path(__file__).resolve().parent)],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert box.stdout is not None and box.stdin is not None
        assert box.stdout.readline().strip() == "ready", box.stderr.read() if box.stderr else ""
        subprocess.run(["ip", "netns", "exec", veth.ns_far, sys.executable, str(tmp_path / "neighbour.py"),
                        veth.if_far, str(NEIGHBOUR_ID)], check=True, capture_output=True, timeout=TIMEOUT_S)
        stdout, stderr = box.communicate("go\n", timeout=TIMEOUT_S)
        assert box.returncode == 0, stderr
        tshark.wait(timeout=TIMEOUT_S)
    finally:
        for proc in (box, tshark):
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=60)
    report = json.loads(stdout.strip().splitlines()[-1])
    assert len(report["cpm"]) == n_cpm

    # tshark's view of every frame the box sent
    rows = _dissect(pcap)
    assert len(rows) == n_cpm + 2
    box_mac = str(GnAddress.from_station_id(STATION_ID))
    for row in rows:
        assert (row["geonw.bh.version"], row["geonw.bh.nh"], row["geonw.ch.nh"]) == ("1", "1", "2")
        assert row["geonw.src_pos.addr.mid"] == box_mac and row["geonw.src_pos.addr.type"] == "15"
        assert abs(int(row["geonw.src_pos.lat"]) / 1e7 - SITE.lat) <= 1e-6
        assert abs(int(row["geonw.src_pos.long"]) / 1e7 - SITE.lon) <= 1e-6
    cpm_rows = [r for r in rows if r["btpb.dstport"] == "2009"]
    denm_rows = [r for r in rows if r["btpb.dstport"] == "2002"]
    assert len(cpm_rows) == n_cpm and len(denm_rows) == 2
    assert {r["geonw.ch.htype"] for r in cpm_rows} == {"0x50"}                   # single-hop broadcast
    assert [r["geonw.ch.htype"] for r in denm_rows] == ["0x40", "0x40"]          # geo-broadcast, circle
    assert [r["geonw.gxc.radius"] for r in denm_rows] == ["500", "501"]
    for r in denm_rows:
        assert abs(int(r["geonw.gxc.latitude"]) / 1e7 - SITE.lat) <= 1e-6
        assert abs(int(r["geonw.gxc.longitude"]) / 1e7 - SITE.lon) <= 1e-6

    # the captured CPM payloads are what the box published, and decode with the official modules
    packets = [parse_ethernet(frame) for _, frame in read_pcap(pcap)]
    payloads = [p.payload for p in packets if p is not None and p.btp_port == 2009]
    assert [int(r["geonw.ch.plength"]) for r in cpm_rows] == [len(b) + 4 for b in payloads]
    assert [b.hex() for b in payloads] == report["cpm"]
    from rsu_traffic_broadcast import codec

    for body in payloads:
        decoded = helpers.official_decode(official, body)
        assert helpers.diff(decoded, codec.decode(body)) == []
        assert decoded["header"]["stationId"] == STATION_ID
        ref = decoded["payload"]["managementContainer"]["referencePosition"]
        assert (ref["latitude"], ref["longitude"]) == (round(SITE.lat * 1e7), round(SITE.lon * 1e7))

    # the box saw its neighbour: three good frames, three malformed ones, counted by reason
    received = report["radio"]["received"]
    assert received["packets"] == 3 and received["neighbours"] == {str(GnAddress.from_station_id(NEIGHBOUR_ID)): 3}
    assert received["malformed"] == 3
    assert received["reasons"] == {"truncated common header": 1, "unsupported version": 1,
                                   "payload length mismatch": 1}
    assert report["radio"]["sent"] == {"denm": 2} and report["plugin_radio"]["sent"] == {"cpm": n_cpm}
