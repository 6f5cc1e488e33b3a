"""A full disk under the box's own files: operator checkpoints, the Kafka output's journal and the held-safety
journal live on a small tmpfs that the test fills. The box keeps running and publishing, counts the failed
writes, says so on ``health`` (``storage`` degraded, naming the file and ENOSPC), never leaves a torn file,
restores the last good checkpoint, and writes again once there is space."""

from __future__ import annotations

import errno
import os
import pickle
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rsu.config import load_config
from rsu.config.kafka import KafkaConfig
from rsu.publish.journal import Journal
from rsu.publish.kafka_output import KafkaOutput
from rsu.publish.safety_journal import HeldMessage, read_held, write_held
from support import Subscriber, running_box, wait_until

WAIT_S = 120.0  # generous: a loaded 2-core machine


@pytest.fixture()
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 512 kB tmpfs (we are root in CI); skipped with the reason where mounting is not permitted."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mnt)], capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip() or proc.returncode}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(folder: Path) -> Path:
    """Write a file in ``folder`` until the disk is full; returns it (delete it to free the space)."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    with open(folder / "filler-tail", "wb", buffering=0) as fh:  # the last few bytes too
        try:
            while True:
                fh.write(b"\0")
        except OSError:
            pass
    return filler


def free(folder: Path) -> None:
    for name in ("filler", "filler-tail"):
        (folder / name).unlink(missing_ok=True)


def _storage(sub: Subscriber) -> list[dict[str, Any]]:
    return [m.payload for m in sub.messages if m.topic.endswith("/health/storage")]


def _objects(sub: Subscriber) -> int:
    return sum(1 for m in sub.messages if "/objects" in m.topic)


def test_checkpoints_on_a_full_disk(small_disk: Path, tmp_path: Path) -> None:
    from rsu.sim.intersection.recording import simulate

    rec = tmp_path / "rec"
    simulate(rec, seconds=20.0, seed=3)
    raw = load_config(rec / "config.yaml").model_dump(mode="json", exclude_none=True)
    ckpt = small_disk / "ckpt"
    raw["sources"][0]["loop"] = True
    raw["publish"] = {"zmq": {"endpoint": "tcp://127.0.0.1:*"}, "health_interval_s": 0.2}
    raw["pipeline"] = {**raw.get("pipeline", {}), "checkpoint": {"dir": str(ckpt), "interval_s": 0.2, "keep": 2}}
    site = raw["site"]["name"]
    with running_box(raw, tmp_path) as built, Subscriber(built.endpoint, f"rsu/{site}/") as sub:
        wait_until(lambda: any(p["details"]["checkpoint"]["written"] >= 2 for p in _storage(sub)), WAIT_S,
                   "two checkpoints written")
        assert all(p["status"] == "ok" for p in _storage(sub))
        fill(small_disk)
        degraded = wait_until(lambda: [p for p in _storage(sub) if p["status"] == "degraded"], WAIT_S,
                              "storage degraded on health")[0]
        assert "ENOSPC" in degraded["message"] and str(ckpt) in degraded["message"]
        assert degraded["details"]["checkpoint"]["write_errors"] >= 1
        seen = _objects(sub)
        wait_until(lambda: _objects(sub) >= seen + 20, WAIT_S, "objects still published on a full disk")
        assert built.box.router_alive()
        names = sorted(p.name for p in ckpt.iterdir())
        assert names and all(n.startswith("ckpt-") and n.endswith(".pkl") for n in names), names  # no .tmp
        for path in ckpt.iterdir():  # every checkpoint on disk is whole
            assert pickle.loads(path.read_bytes())["format"] == 1
        errors = built.box.inline_stages[-1].stats()["checkpoint"]["write_errors"]
        free(small_disk)
        wait_until(lambda: _storage(sub)[-1]["status"] == "ok" and _storage(sub)[-1]["details"]["checkpoint"]
                   ["written"] > degraded["details"]["checkpoint"]["written"], WAIT_S, "checkpoints written again")
        assert errors >= 1
    with running_box(raw, tmp_path) as again:  # the restart restores the newest good checkpoint
        wait_until(lambda: again.box.inline_stages[-1].stats()["checkpoint"]["restored"] == 1, WAIT_S,
                   "the checkpoint restored")


def test_kafka_journal_on_a_full_disk(small_disk: Path) -> None:
    cfg = KafkaConfig(bootstrap_servers="127.0.0.1:9", close_timeout_s=0,  # no broker: everything journals
                      journal={"dir": str(small_disk / "journal"), "max_bytes": 64 << 20, "segment_bytes": 64 << 10})
    out = KafkaOutput("s", cfg)
    filler = small_disk / "filler"
    try:
        with open(filler, "wb") as fh:
            fh.write(b"\0" * (300 << 10))
        sent = 0
        while out.stats()["journal"]["last_error"] is None and sent < 20_000:
            out.publish("env", {"device": "d", "values": {"x": 1.0}, "units": {}, "pad": "p" * 200})
            sent += 1
        stats = out.stats()
        assert stats["journal"]["last_error"]["errno"] == "ENOSPC"
        assert "/journal/normal/" in stats["journal"]["last_error"]["file"]
        for i in range(5):  # a full disk: safety records still go out (to the client, for the broker)
            out.publish("fault", {"device": "d", "kind": "k", "active": True, "severity": "critical",
                                  "score": 1.0, "message": f"alarm {i}"}, schema="rsu.fault.alarm/1")
        for _ in range(5):
            out.publish("env", {"device": "d", "values": {"x": 1.0}, "units": {}, "pad": "p" * 200})
        stats = out.stats()
        assert stats["unjournalled_sent_live"] == 5 and stats["unjournalled"].get("safety", 0) == 0
        assert stats["unjournalled"]["normal"] >= 5  # counted, not silently lost
        assert stats["journal"]["write_errors"]["normal"] == stats["unjournalled"]["normal"]
        journalled = stats["journalled"]
        filler.unlink()
        out.publish("env", {"device": "d", "values": {"x": 2.0}, "units": {}})  # space again: journalled
        assert out.stats()["journalled"] == journalled + 1 and out.stats()["journal"]["last_error"] is None
    finally:
        out.close(timeout=0)
        filler.unlink(missing_ok=True)
    journal = Journal(small_disk / "journal", max_bytes=64 << 20, segment_bytes=64 << 10)
    try:  # every record on disk is whole: nothing to cut, all of them readable in order
        assert journal.stats()["corrupt"] == 0
        records = []
        while (r := journal.take()) is not None:
            records.append(r)
        assert len(records) >= journalled + 1
        assert [r.seq for r in records] == sorted(r.seq for r in records)
    finally:
        journal.close()


def test_the_journal_cuts_a_refused_record(small_disk: Path) -> None:
    journal = Journal(small_disk / "j", max_bytes=64 << 20, segment_bytes=1 << 20)
    with open(small_disk / "filler", "wb") as fh:
        fh.write(b"\0" * (500 << 10))
    appended = 0
    with pytest.raises(OSError) as info:
        while True:
            journal.append("normal", "t", None, os.urandom(1000))
            appended += 1
    assert info.value.errno == errno.ENOSPC and journal.stats()["write_errors"] == {"normal": 1}
    (small_disk / "filler").unlink()
    journal.append("normal", "t", None, b"after")
    journal.close()
    again = Journal(small_disk / "j", max_bytes=64 << 20, segment_bytes=1 << 20)
    try:
        assert again.stats()["corrupt"] == 0 and len(again) == appended + 1
        values = [again.take().value for _ in range(appended + 1)]
        assert values[-1] == b"after" and all(len(v) == 1000 for v in values[:-1])
    finally:
        again.close()


def _held(i: int) -> HeldMessage:
    return HeldMessage("fault", {"device": "d", "kind": "k", "active": True, "severity": "critical", "score": 1.0,
                                 "message": f"alarm {i} " + "y" * 2000}, None, "furnace", 1_700_000_000 + i,
                       "rsu.fault.alarm/1", "rsu")


def test_held_safety_journal_on_a_full_disk(small_disk: Path) -> None:
    path = small_disk / "uplink-held.jsonl"
    assert write_held(path, [_held(i) for i in range(3)]) == 3
    before = path.read_bytes()
    with pytest.raises(OSError) as info:
        write_held(path, [_held(i) for i in range(1000)])  # 2 MB on a 512 kB disk
    assert info.value.errno == errno.ENOSPC
    assert sorted(p.name for p in small_disk.iterdir()) == ["uplink-held.jsonl"]  # no torn temporary file
    assert path.read_bytes() == before  # the earlier file is untouched
    messages, bad = read_held(path)
    assert len(messages) == 3 and bad == 0
