"""Recorded CAN logs, read record by record so that one bad record is counted and skipped.

The candump format (``.log``, ``.log.gz``; what ``rsu simulate`` writes) is parsed here line by line::

    (1767225600.000000) can0 60A#0300040000000000 R

Other python-can formats (``.asc``, ``.blf``) go through python-can's reader; as that reader cannot
resume after an error, a bad record there ends the file (counted as ``log_errors``).
"""

from __future__ import annotations

import gzip
import logging
import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from rsu.sources.bounds import MAX_EVENT_NS

__all__ = ["CanLogError", "CanRecord", "iter_can_log", "parse_candump_line", "MAX_LINE"]

log = logging.getLogger(__name__)
MAX_LINE = 512
"""Longest candump line accepted (a CAN FD frame of 64 bytes takes about 170 characters)."""
_HEX = frozenset("0123456789abcdefABCDEF")
_ERR_FLAG = 0x20000000


class CanLogError(ValueError):
    """A record that is not a CAN frame; the text says what is wrong."""


@dataclass(frozen=True, slots=True)
class CanRecord:
    timestamp: float
    arbitration_id: int
    data: bytes
    is_extended_id: bool = False
    is_error_frame: bool = False
    is_remote_frame: bool = False
    channel: str = ""


def _hex(text: str, what: str) -> int:
    if not text or not set(text) <= _HEX:
        raise CanLogError(f"{what}: expected hex digits, got {text[:20]!r}")
    return int(text, 16)


def parse_candump_line(line: str) -> CanRecord:
    """One ``(timestamp) channel id#data [R|T]`` line; :class:`CanLogError` when it is not one."""
    if len(line) > MAX_LINE:
        raise CanLogError(f"line of {len(line)} characters (max {MAX_LINE})")
    parts = line.split()
    if len(parts) == 4 and parts[3].upper() in ("R", "T"):
        parts = parts[:3]
    if len(parts) != 3:
        raise CanLogError(f"expected '(timestamp) channel id#data', got {len(parts)} fields")
    stamp, channel, frame = parts
    if not (stamp.startswith("(") and stamp.endswith(")")):
        raise CanLogError(f"timestamp: expected '(seconds)', got {stamp[:30]!r}")
    try:
        ts = float(stamp[1:-1])
    except ValueError:
        raise CanLogError(f"timestamp: not a number: {stamp[:30]!r}") from None
    if not (math.isfinite(ts) and 0 <= ts <= MAX_EVENT_NS / 1e9):
        raise CanLogError(f"timestamp: {ts!r} is not a time between the epoch and 2100")
    can_id, sep, data = frame.partition("#")
    if not sep or len(can_id) not in (3, 8):
        raise CanLogError(f"frame: expected 'ID#DATA' with a 3- or 8-digit id, got {frame[:30]!r}")
    aid = _hex(can_id, "id")
    extended = len(can_id) == 8
    if aid & _ERR_FLAG:
        return CanRecord(ts, aid & 0x1FFFFFFF, b"", extended, is_error_frame=True, channel=channel)
    if extended and aid > 0x1FFFFFFF or not extended and aid > 0x7FF:
        raise CanLogError(f"id: 0x{aid:X} out of range for a {'29' if extended else '11'}-bit id")
    if data.startswith("#"):  # CAN FD: ##<flags><data>
        if len(data) < 2 or data[1] not in _HEX:
            raise CanLogError("CAN FD frame without flags")
        data, max_len = data[2:], 64
    elif data[:1] in ("R", "r"):
        return CanRecord(ts, aid, b"", extended, is_remote_frame=True, channel=channel)
    else:
        max_len = 8
    if len(data) % 2 or len(data) > 2 * max_len or data and not set(data) <= _HEX:
        raise CanLogError(f"data: expected up to {max_len} hex bytes, got {data[:40]!r}")
    return CanRecord(ts, aid, bytes.fromhex(data), extended, channel=channel)


def _lines(fh: IO[str], counts: dict[str, int]) -> Iterator[str]:
    """Lines of at most MAX_LINE characters; longer ones are consumed, counted and skipped."""
    while True:
        line = fh.readline(MAX_LINE + 1)
        if not line:
            return
        if len(line) > MAX_LINE and not line.endswith("\n"):
            while True:
                rest = fh.readline(65536)
                if not rest or rest.endswith("\n"):
                    break
            counts["bad_records"] = counts.get("bad_records", 0) + 1
            continue
        yield line


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def iter_can_log(path: Path | str, counts: dict[str, int] | None = None) -> Iterator[Any]:
    """Every good record of a CAN log (``CanRecord`` or ``can.Message``); bad ones counted in ``counts``.

    ``counts`` gets ``records``, ``bad_records`` (skipped) and ``log_errors`` (the file ended early:
    truncated gzip, or a bad record in a format python-can reads).
    """
    counts = counts if counts is not None else {}
    for key in ("records", "bad_records", "log_errors"):
        counts.setdefault(key, 0)
    path = Path(path)
    name = path.name.lower()
    if name.endswith((".log", ".log.gz")):
        yield from _candump(path, counts)
        return
    import can

    try:
        for msg in can.LogReader(str(path)):
            counts["records"] += 1
            yield msg
    except Exception as exc:  # noqa: BLE001 - python-can's readers raise anything on a bad record
        counts["log_errors"] += 1
        log.warning("%s: CAN log unreadable after %d records: %s: %s", path, counts["records"],
                    type(exc).__name__, exc)


def _candump(path: Path, counts: dict[str, int]) -> Iterator[CanRecord]:
    try:
        with _open_text(path) as fh:
            for n, line in enumerate(_lines(fh, counts), start=1):
                if not line.strip():
                    continue
                try:
                    rec = parse_candump_line(line)
                except CanLogError as exc:
                    counts["bad_records"] += 1
                    if counts["bad_records"] <= 5:
                        log.warning("%s line %d: %s (skipped)", path.name, n, exc)
                    continue
                counts["records"] += 1
                yield rec
    except (OSError, EOFError, zlib.error) as exc:  # truncated or corrupt gzip: what was read stands
        counts["log_errors"] += 1
        log.warning("%s: CAN log ends early after %d records: %s", path, counts["records"], exc)
