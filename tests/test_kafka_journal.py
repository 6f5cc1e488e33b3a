"""The Kafka output's disk journal: order across priority lanes, the size bound, crash recovery."""

from __future__ import annotations

from pathlib import Path

import pytest

from rsu.publish.journal import LANES, Journal, Record


def _fill(j: Journal, n: int, size: int = 100) -> list[tuple[str, bytes]]:
    added = []
    for i in range(n):
        priority = LANES[i % 3]
        value = b"%06d" % i + b"x" * size
        assert j.append(priority, "rsu.t", b"k%d" % (i % 4), value)
        added.append((priority, value))
    return added


def _drain(j: Journal, ack: bool = True) -> list[Record]:
    out = []
    while (r := j.take()) is not None:
        out.append(r)
        if ack:
            j.ack(r.seq)
    return out


def test_records_come_back_in_append_order_across_lanes(tmp_path: Path) -> None:
    j = Journal(tmp_path, max_bytes=1 << 20, segment_bytes=4096)
    added = _fill(j, 500)
    assert j.peek() is not None and j.peek().seq == 0
    got = _drain(j)
    assert [(r.priority, r.value) for r in got] == added
    assert [r.seq for r in got] == list(range(500))
    assert got[1].key == b"k1" and got[1].topic == "rsu.t"
    stats = j.stats()
    assert stats["waiting"] == 0 and stats["in_flight"] == 0 and stats["bytes"] == 0
    assert list(tmp_path.glob("*/*.seg")) == []  # delivered segments are deleted


def test_key_none_and_binary_body_round_trip(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    j.append("safety", "rsu.v2x.cpm", None, b'{"a":1}', body=b"\x00\x01\xff")
    r = j.take()
    assert r == Record(0, "safety", "rsu.v2x.cpm", None, b'{"a":1}', b"\x00\x01\xff")


def test_full_journal_drops_oldest_low_then_normal_never_safety(tmp_path: Path) -> None:
    j = Journal(tmp_path, max_bytes=64 * 1024, segment_bytes=4096)
    for i in range(300):  # ~45 KiB of low records, then ~45 KiB of normal ones push the oldest low out
        j.append("low", "rsu.detections", b"site", b"L%05d" % i + b"x" * 128)
    for i in range(300):
        j.append("normal", "rsu.objects", b"site", b"N%05d" % i + b"x" * 128)
    stats = j.stats()
    assert stats["bytes"] <= 64 * 1024
    assert stats["dropped"].get("low", 0) > 0 and "normal" not in stats["dropped"]
    for i in range(300):  # ~45 KiB of safety records: every low one goes, then the oldest normal ones
        j.append("safety", "rsu.fault", b"dev", b"S%05d" % i + b"x" * 128)
    stats = j.stats()
    assert stats["bytes"] <= 64 * 1024
    assert stats["dropped"]["low"] == 300 and stats["dropped"]["normal"] > 0 and "safety" not in stats["dropped"]
    got = _drain(j)
    assert [r.value[:6] for r in got if r.priority == "safety"] == [b"S%05d" % i for i in range(300)]
    normal = [int(r.value[1:6]) for r in got if r.priority == "normal"]
    assert normal == list(range(300 - len(normal), 300))  # the newest normal records survive, in order
    assert len(normal) == 300 - j.stats()["dropped"]["normal"]
    assert [r.seq for r in got] == sorted(r.seq for r in got)


def test_safety_is_admitted_past_the_bound_and_counted(tmp_path: Path) -> None:
    j = Journal(tmp_path, max_bytes=64 * 1024, segment_bytes=4096)
    for _ in range(1000):
        assert j.append("safety", "rsu.fault", b"dev", b"x" * 200)
    stats = j.stats()
    assert stats["appended"]["safety"] == 1000 and stats["dropped"] == {}
    assert stats["bytes"] > 64 * 1024 and stats["safety_over_bytes"] > 0
    assert not j.append("low", "rsu.detections", b"s", b"y")  # nothing lower to drop: the low record goes


def test_reopen_gives_back_what_was_not_acknowledged(tmp_path: Path) -> None:
    j = Journal(tmp_path, max_bytes=1 << 20, segment_bytes=4096)
    _fill(j, 300)
    taken = [j.take() for _ in range(200)]
    for r in taken[:150]:
        j.ack(r.seq)  # 150..199 taken, not acknowledged (in flight at a crash)
    j.close()
    j2 = Journal(tmp_path, max_bytes=1 << 20, segment_bytes=4096)
    assert j2.stats()["recovered"] == 150
    seqs = [r.seq for r in _drain(j2)]
    assert seqs == list(range(150, 300))
    assert j2.append("normal", "rsu.t", b"k", b"new")
    assert j2.take().seq == 300  # seq continues after the recovered ones


def test_torn_record_at_the_end_is_cut_off(tmp_path: Path) -> None:
    j = Journal(tmp_path, max_bytes=1 << 20)
    for i in range(10):
        j.append("normal", "rsu.t", b"k", b"v%d" % i)
    j.close()
    seg = next((tmp_path / "normal").glob("*.seg"))
    data = seg.read_bytes()
    seg.write_bytes(data[:-3])  # a write cut short by a power loss
    j2 = Journal(tmp_path, max_bytes=1 << 20)
    assert j2.stats()["corrupt"] == 1
    assert [r.value for r in _drain(j2)] == [b"v%d" % i for i in range(9)]


def test_restore_puts_unsent_records_back_in_seq_order(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    live = [Record(j.reserve(), "normal", "rsu.t", b"k", b"live%d" % i) for i in range(3)]
    j.append("normal", "rsu.t", b"k", b"journalled")
    j.restore(live[1:])  # live[0] was delivered, the others not
    j.close()
    j2 = Journal(tmp_path)
    assert [r.value for r in _drain(j2)] == [b"live1", b"live2", b"journalled"]


def test_bad_priority_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="priority 'urgent'"):
        Journal(tmp_path).append("urgent", "rsu.t", None, b"")


def test_a_low_record_never_pushes_out_a_normal_one(tmp_path: Path) -> None:
    j = Journal(tmp_path, max_bytes=64 * 1024, segment_bytes=4096)
    while j.stats()["bytes"] + 300 < 64 * 1024:
        j.append("normal", "rsu.objects", b"site", b"x" * 200)
    normal = j.stats()["appended"]["normal"]
    assert not j.append("low", "rsu.detections", b"site", b"y" * 400)
    stats = j.stats()
    assert stats["dropped"] == {"low": 1} and len(j) == normal


def test_one_journal_folder_serves_one_box(tmp_path: Path) -> None:
    from rsu.publish.journal import JournalError

    j = Journal(tmp_path)
    with pytest.raises(JournalError, match="in use by another process"):
        Journal(tmp_path)
    j.close()
    Journal(tmp_path).close()  # free again once closed
