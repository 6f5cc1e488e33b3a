"""A bounded, priority-aware, on-disk journal of outgoing records (the Kafka output's store-and-forward).

Records get one global ``seq`` (their order) and go to one of three lanes by priority (``safety``, ``normal``,
``low``), each a folder of append-only segment files. :meth:`Journal.peek` / :meth:`Journal.take` give the
records back in ``seq`` order across lanes; :meth:`Journal.ack` marks one delivered. A segment file is deleted
once every record in it was taken and acknowledged.

Bounded: when an append would pass ``max_bytes``, whole oldest segments are dropped, low lane first, then
normal; the safety lane is never dropped. A record that could only be admitted by dropping records of a higher
priority is itself dropped (a low record never evicts a normal one). A safety record is always admitted, even
past the bound (counted in ``stats()["safety_over_bytes"]``). Every dropped record is counted per priority.

Durability: each record is written (no fsync) with its length and CRC32; on open, the lanes are scanned, a torn
record at a segment's end is cut off (counted as ``corrupt``), and every record not acknowledged before the
last :meth:`Journal.commit` is given back again, so a crash can repeat records, never lose acknowledged order.

A write the disk refuses (``ENOSPC``): :meth:`Journal.append` cuts the segment back to its last whole record,
counts it in ``write_errors`` per priority, keeps file and error in ``last_error`` (None after the next good
write) and raises the OSError: the caller decides (the Kafka output sends a safety record live).
Thread-safe: one lock guards every method.
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
import threading
import zlib
from collections import Counter
from pathlib import Path
from typing import Any, NamedTuple

from rsu.core.diskio import atomic_write, write_error

__all__ = ["Journal", "JournalError", "Record", "LANES"]

LANES = ("safety", "normal", "low")
_FRAME = struct.Struct("<II")  # length of the rest, crc32 of the rest
_FIXED = struct.Struct("<QBHiI")  # seq, lane index, topic length, key length (-1: none), body length
_COMMITTED = "committed"


def _write_all(f: Any, data: bytes) -> None:
    """Write all of ``data`` to the unbuffered file ``f``; OSError (ENOSPC) when the disk takes only part."""
    view, done = memoryview(data), 0
    while done < len(data):
        n = f.write(view[done:])
        if not n:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        done += n


class JournalError(RuntimeError):
    """The journal folder cannot be used (the message names it)."""


class Record(NamedTuple):
    """One journalled record: ``body`` is a binary payload travelling with ``value`` (None: none)."""

    seq: int
    priority: str
    topic: str
    key: bytes | None
    value: bytes
    body: bytes | None = None


def _encode(r: Record) -> bytes:
    topic = r.topic.encode()
    key_len = -1 if r.key is None else len(r.key)
    body = r.body or b""
    rest = b"".join((_FIXED.pack(r.seq, LANES.index(r.priority), len(topic), key_len, len(body)),
                     topic, r.key or b"", body, r.value))
    return _FRAME.pack(len(rest), zlib.crc32(rest)) + rest


def _decode(rest: bytes) -> Record:
    seq, lane, topic_len, key_len, body_len = _FIXED.unpack_from(rest)
    at = _FIXED.size
    topic = rest[at:at + topic_len].decode()
    at += topic_len
    key = None if key_len < 0 else rest[at:at + key_len]
    at += max(key_len, 0)
    body = rest[at:at + body_len] if body_len else None
    return Record(seq, LANES[lane], topic, key, rest[at + body_len:], body)


class _Segment:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: list[tuple[int, int]] = []  # (seq, offset) of each record
        self.bytes = 0
        self.taken = 0  # records given out by take()
        self.unacked = 0
        self._reader: Any = None

    def next_seq(self) -> int | None:
        return self.entries[self.taken][0] if self.taken < len(self.entries) else None

    def read(self, index: int) -> Record:
        if self._reader is None:
            self._reader = self.path.open("rb", buffering=0)  # unbuffered: the file grows while read
        self._reader.seek(self.entries[index][1])
        length, _crc = _FRAME.unpack(self._reader.read(_FRAME.size))
        return _decode(self._reader.read(length))

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def delete(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)


class _Lane:
    def __init__(self, name: str, folder: Path) -> None:
        self.name, self.folder = name, folder
        self.segments: list[_Segment] = []
        self.writer: Any = None  # the open file of the last segment


class Journal:
    """See the module docstring.

    :param folder: the journal folder (created); one per box.
    :param max_bytes: the size bound of all segment files together.
    :param segment_bytes: a segment's size, the unit dropped when full (default ``max_bytes // 32``).
    """

    def __init__(self, folder: str | Path, *, max_bytes: int = 256 << 20, segment_bytes: int | None = None) -> None:
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes or max(4096, max_bytes // 32)
        self._lock = threading.Lock()
        self._dropped: Counter[str] = Counter()
        self._appended: Counter[str] = Counter()
        self._corrupt = 0
        self._over = 0
        self._write_errors: Counter[str] = Counter()
        self.last_error: dict[str, Any] | None = None
        self._inflight: dict[int, _Segment] = {}
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._lockfile = (self.folder / "lock").open("a")
            try:
                fcntl.flock(self._lockfile, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._lockfile.close()
                raise JournalError(f"journal {self.folder} is in use by another process (one per box)") from None
            self._committed = self._read_committed()
            self._lanes = {name: _Lane(name, self.folder / name) for name in LANES}
            self._next = self._committed
            for lane in self._lanes.values():
                lane.folder.mkdir(exist_ok=True)
                self._recover(lane)
        except OSError as exc:
            raise JournalError(f"journal {self.folder}: {exc}") from None
        self._recovered = len(self)

    # -- recovery ------------------------------------------------------------------------------------------

    def _read_committed(self) -> int:
        try:
            return int((self.folder / _COMMITTED).read_text().strip())
        except (OSError, ValueError):
            return 0

    def _recover(self, lane: _Lane) -> None:
        for path in sorted(lane.folder.glob("*.seg")):  # seq order within a file; across files, by head
            seg = _Segment(path)
            data = path.read_bytes()
            at = 0
            while at + _FRAME.size <= len(data):
                length, crc = _FRAME.unpack_from(data, at)
                rest = data[at + _FRAME.size:at + _FRAME.size + length]
                if len(rest) != length or zlib.crc32(rest) != crc:
                    break
                seq = _FIXED.unpack_from(rest)[0]
                if seq >= self._committed:
                    seg.entries.append((seq, at))
                    self._next = max(self._next, seq + 1)
                at += _FRAME.size + length
            if at < len(data):
                self._corrupt += 1
                with path.open("r+b") as f:
                    f.truncate(at)
            seg.bytes = at
            if seg.entries:
                lane.segments.append(seg)
            else:
                path.unlink()

    # -- writing -------------------------------------------------------------------------------------------

    def append(self, priority: str, topic: str, key: bytes | None, value: bytes, body: bytes | None = None) -> bool:
        """Journal one record; False when it was dropped because the journal is full of higher priorities.
        OSError (counted in ``write_errors``) when the disk refuses it; the journal stays consistent."""
        if priority not in self._lanes:
            raise ValueError(f"priority {priority!r}: expected one of {', '.join(LANES)}")
        with self._lock:
            seq = self._next
            data = _encode(Record(seq, priority, topic, key, value, body))
            if not self._make_room(priority, len(data)):
                self._dropped[priority] += 1
                return False
            lane = self._lanes[priority]
            seg = lane.segments[-1] if lane.segments and lane.writer is not None else None
            try:
                if seg is None or (seg.bytes and seg.bytes + len(data) > self.segment_bytes):
                    seg = self._roll(lane, seq)
                _write_all(lane.writer, data)
            except OSError as exc:
                self._write_failed(lane, seg, exc)
                self._write_errors[priority] += 1
                raise
            self.last_error = None
            self._next += 1
            seg.entries.append((seq, seg.bytes))
            seg.bytes += len(data)
            self._appended[priority] += 1
            if self._bytes() > self.max_bytes:
                self._over += 1
            return True

    def reserve(self) -> int:
        """A seq for a record sent without journalling, so that :meth:`restore` can put it back in order."""
        with self._lock:
            self._next += 1
            return self._next - 1

    def restore(self, records: list[Record]) -> None:
        """Journal records that were sent straight to the client (seqs from :meth:`reserve`) but not delivered:
        they go into fresh segments and are given back in ``seq`` order with the rest. Not bounded."""
        with self._lock:
            for name, lane in self._lanes.items():
                mine = sorted((r for r in records if r.priority == name), key=lambda r: r.seq)
                if not mine:
                    continue
                n = len(list(lane.folder.glob(f"{mine[0].seq:020d}.r*.seg")))
                seg = _Segment(lane.folder / f"{mine[0].seq:020d}.r{n}.seg")
                with seg.path.open("ab") as f:
                    for r in mine:
                        data = _encode(r)
                        f.write(data)
                        seg.entries.append((r.seq, seg.bytes))
                        seg.bytes += len(data)
                        self._appended[name] += 1
                lane.segments.insert(0, seg)

    def _roll(self, lane: _Lane, seq: int) -> _Segment:
        if lane.writer is not None:
            lane.writer.close()
            lane.writer = None
        seg = _Segment(lane.folder / f"{seq:020d}.seg")
        lane.writer = seg.path.open("ab", buffering=0)  # unbuffered: a refused write leaves nothing pending
        lane.segments.append(seg)
        return seg

    def _write_failed(self, lane: _Lane, seg: _Segment | None, exc: OSError) -> None:
        """Cut the segment back to its last whole record (what a full disk let through must not stay)."""
        path = seg.path if seg is not None else lane.folder
        self.last_error = write_error(path, exc)
        if seg is None or lane.writer is None:
            return
        try:
            lane.writer.truncate(seg.bytes)
        except OSError:  # cannot cut it: close the segment; recovery cuts a torn tail at the next open
            lane.writer.close()
            lane.writer = None
        if not seg.entries and lane.writer is not None and seg is lane.segments[-1]:
            lane.writer.close()  # a segment made for this record alone: gone again
            lane.writer = None
            lane.segments.pop()
            seg.delete()

    def _bytes(self) -> int:
        return sum(seg.bytes for lane in self._lanes.values() for seg in lane.segments)

    def _make_room(self, priority: str, size: int) -> bool:
        victims = [name for name in ("low", "normal") if LANES.index(name) >= LANES.index(priority)]
        for name in victims:
            lane = self._lanes[name]
            while self._bytes() + size > self.max_bytes and lane.segments:
                self._evict(lane, lane.segments[0])
        return priority == "safety" or self._bytes() + size <= self.max_bytes

    def _evict(self, lane: _Lane, seg: _Segment) -> None:
        self._dropped[lane.name] += len(seg.entries) - seg.taken
        lane.segments.remove(seg)
        if not lane.segments and lane.writer is not None:
            lane.writer.close()
            lane.writer = None
        seg.delete()
        seg.taken = len(seg.entries)  # acks of records still in flight find nothing to do

    # -- reading -------------------------------------------------------------------------------------------

    def _next_head(self) -> tuple[_Lane, _Segment, int] | None:
        """The segment holding the lowest untaken seq (each file is in seq order; files may interleave after
        :meth:`restore`)."""
        best: tuple[_Lane, _Segment, int] | None = None
        best_seq = 0
        for lane in self._lanes.values():
            for seg in lane.segments:
                seq = seg.next_seq()
                if seq is not None and (best is None or seq < best_seq):
                    best, best_seq = (lane, seg, seg.taken), seq
        return best

    def peek(self) -> Record | None:
        """The next record not yet taken (lowest ``seq``), or None."""
        with self._lock:
            head = self._next_head()
            return None if head is None else head[1].read(head[2])

    def take(self) -> Record | None:
        """Give out the next record; it stays on disk until :meth:`ack`."""
        with self._lock:
            head = self._next_head()
            if head is None:
                return None
            _lane, seg, index = head
            seg.taken += 1
            seg.unacked += 1
            self._inflight[seg.entries[index][0]] = seg
            return seg.read(index)

    def ack(self, seq: int) -> None:
        """Record ``seq`` was delivered; deletes segments fully taken and acknowledged."""
        with self._lock:
            seg = self._inflight.pop(seq, None)
            if seg is None:
                return
            seg.unacked -= 1
            if seg.unacked == 0 and seg.taken == len(seg.entries):
                for lane in self._lanes.values():
                    if seg in lane.segments:
                        self._drop_done(lane, seg)

    def _drop_done(self, lane: _Lane, seg: _Segment) -> None:
        if seg is lane.segments[-1] and lane.writer is not None:
            lane.writer.close()
            lane.writer = None
        lane.segments.remove(seg)
        seg.delete()
        self._commit_locked()

    def _commit_locked(self) -> None:
        low = min(self._inflight, default=None)
        head = self._next_head()
        candidates = [s for s in (low, None if head is None else head[1].entries[head[2]][0]) if s is not None]
        mark = min(candidates, default=self._next)
        if mark != self._committed:
            try:
                atomic_write(self.folder / _COMMITTED, f"{mark}\n".encode(), durable=False)
            except OSError as exc:  # a full disk: the old mark stays (records may repeat, none is lost)
                self.last_error = write_error(self.folder / _COMMITTED, exc)
                self._write_errors["commit"] += 1
                return
            self._committed = mark

    def commit(self) -> None:
        """Persist how far records were acknowledged (also done whenever a segment is deleted)."""
        with self._lock:
            self._commit_locked()

    # -- state ---------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        """Records not yet taken."""
        return sum(len(s.entries) - s.taken for lane in self._lanes.values() for s in lane.segments)

    def pending(self) -> int:
        """Records not yet acknowledged (not taken, or taken and in flight)."""
        return len(self) + len(self._inflight)

    def stats(self) -> dict[str, Any]:
        """``appended`` and ``dropped`` per priority, ``waiting`` (not taken), ``in_flight``, ``bytes`` ..."""
        with self._lock:
            return {"dir": str(self.folder), "appended": dict(self._appended), "dropped": dict(self._dropped),
                    "waiting": len(self), "in_flight": len(self._inflight), "bytes": self._bytes(),
                    "max_bytes": self.max_bytes, "safety_over_bytes": self._over, "corrupt": self._corrupt,
                    "recovered": self._recovered, "write_errors": dict(self._write_errors),
                    "last_error": self.last_error}

    def close(self) -> None:
        """Commit and close the files (records not acknowledged stay for the next open)."""
        with self._lock:
            self._commit_locked()
            for lane in self._lanes.values():
                for seg in lane.segments:
                    seg.close()
                if lane.writer is not None:
                    lane.writer.close()
                    lane.writer = None
            self._lockfile.close()  # releases the lock
