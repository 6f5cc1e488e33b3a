"""The uplink's policy without a link: link-state hysteresis, priorities, the batch schema, the kernel backlog probe."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from rsu.config.uplink import UplinkConfig
from rsu.publish.batch import BATCH_SCHEMA
from rsu.publish.linkprobe import LinkSample, LinkState, tcp_backlog
from rsu.publish.schemas import validate
from rsu.publish.uplink import LOW, NORMAL, SAFETY, priority_of

SITE = "pole-7"


def test_batch_message_validates_against_its_schema() -> None:
    payload = {"schema": BATCH_SCHEMA, "site": SITE, "source": "air-1", "seq": 0, "t_event": 1, "t_publish": 2,
               "items": [{"schema": "rsu.env/1", "t_event": 1, "device": "x", "values": {}, "units": {}}]}
    assert validate(payload) == []
    assert validate({**payload, "items": [{"device": "x"}]})  # an item without schema / t_event


def test_link_state_goes_up_at_once_and_down_after_recover_s() -> None:
    now = [0.0]
    changes: list[tuple[str, str]] = []
    cfg = UplinkConfig(slow_backlog_bytes=1000, congested_backlog_bytes=5000, recover_s=2.0)
    state = LinkState(cfg, on_change=lambda a, b, _r: changes.append((a, b)), clock=lambda: now[0])
    for t, backlog, pressure, want in [(0, 0, 0, 0), (1, 1500, 0, 1), (2, 9000, 0, 2), (3, 0, 0, 2),
                                       (4, 1200, 0, 2), (5.1, 0, 0, 1), (6, 0, 3, 2), (7, 0, 0, 2),
                                       (9.5, 0, 0, 0)]:
        now[0] = t
        assert state.update(LinkSample(backlog_bytes=backlog, pressure=pressure)) == want, t
    assert changes == [("good", "slow"), ("slow", "congested"), ("congested", "slow"), ("slow", "congested"),
                       ("congested", "good")]


def test_priorities_and_config_refuses_lowering_safety() -> None:
    assert [priority_of(p) for p in ("v2x/cpm", "fault", "actuation", "health", "v2x/denm")] == [SAFETY] * 5
    assert [priority_of(p) for p in ("objects", "radar", "env", "weather")] == [NORMAL] * 4
    assert [priority_of(p) for p in ("detections", "cam-snapshot")] == [LOW] * 2
    assert priority_of("weather", {"weather": "low"}) == LOW
    with pytest.raises(ValueError, match="safety products cannot be lowered: fault"):
        UplinkConfig(priorities={"fault": "low"})
    with pytest.raises(ValueError, match="never batched"):
        UplinkConfig(batch={"products": ["actuation"]})


def test_tcp_backlog_reads_the_kernel_send_queue(tmp_path: Path) -> None:
    (tmp_path / "net").mkdir()
    head = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    (tmp_path / "net" / "tcp").write_text(
        head + "   0: 0100007F:15B4 0100007F:C350 01 00004000:00000000 00:00000000 00000000 0 0 1 1\n"
               "   1: 0100007F:15B4 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 2 1\n"
               "   2: 0100007F:C351 0100007F:15B4 01 00009000:00000000 00:00000000 00000000 0 0 3 1\n"
               "   garbage\n")
    assert tcp_backlog(0x15B4, tmp_path) == [0x4000]  # established, local port 5556; not the listener or peer
    assert tcp_backlog(0x15B4, tmp_path / "missing") is None
    if Path("/proc/net/tcp").exists():  # and the real kernel table has our own connection
        srv = socket.create_server(("127.0.0.1", 0))
        cli = socket.create_connection(srv.getsockname())
        conn, _ = srv.accept()
        try:
            assert tcp_backlog(srv.getsockname()[1]) == [0]
        finally:
            for s in (cli, conn, srv):
                s.close()
