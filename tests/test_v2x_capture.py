"""``rsu v2x capture``: a real UDP port standing in for a vendor stack, a real radio sending to it."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from rsu.cli import main
from rsu_sdk.v2x import Radio, parse_ethernet, read_pcap
from support import free_port, wait_until


def test_capture_writes_what_a_udp_framed_radio_sends(tmp_path: Path) -> None:
    port = free_port(kind=socket.SOCK_DGRAM)
    out = tmp_path / "air.pcap"
    proc = subprocess.Popen([sys.executable, "-m", "rsu", "v2x", "capture", str(out), "--listen", f"127.0.0.1:{port}",
                             "--count", "4", "--timeout", "120"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    radio = Radio({"mode": "udp-framed", "host": "127.0.0.1", "port": port}, station_id=77, lat=48.0, lon=11.0)
    junk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        # the capture binds its port at some point after start: keep sending until it has its 4 frames and ends
        def send_then_ended() -> bool:
            radio.send(b"\x02\x0ecpm", kind="cpm")
            junk.sendto(b"\x99 not geonetworking", ("127.0.0.1", port))
            return proc.poll() is not None

        wait_until(send_then_ended, 120, "the capture to take its 4 frames and exit", interval=0.2)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        junk.close()
        radio.close()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    result = json.loads(stdout)
    assert result["frames"] == 4 and result["packets"] + result["malformed"] == 4
    assert result["packets"] >= 1 and set(result["neighbours"]) == {"02:00:00:00:00:4d"}
    frames = [frame for _, frame in read_pcap(out)]
    assert len(frames) == 4
    parsed = [p for p in map(parse_ethernet, frames) if p is not None]
    assert len(parsed) == result["packets"] and all(p.btp_port == 2009 and p.payload == b"\x02\x0ecpm"
                                                    for p in parsed)


def test_capture_needs_exactly_one_source(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["v2x", "capture", str(tmp_path / "x.pcap")])
    assert result.exit_code == 2 and "exactly one of --interface or --listen" in result.output


def test_capture_on_a_missing_interface_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["v2x", "capture", str(tmp_path / "x.pcap"), "-i", "no-such-if0",
                                       "--timeout", "1"])
    assert result.exit_code == 1 and "cannot capture on interface no-such-if0" in result.output
