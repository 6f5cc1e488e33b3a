"""Classic libpcap files (``.pcap``, link type Ethernet) that Wireshark and tshark open as they are."""

from __future__ import annotations

import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["LINKTYPE_ETHERNET", "PcapWriter", "read_pcap"]

LINKTYPE_ETHERNET = 1
_MAGIC_US = 0xA1B2C3D4
_SNAPLEN = 65535


class PcapWriter:
    """Appends Ethernet frames to a new pcap file; thread-safe, flushed after each frame.

    :param path: the file to create (overwritten).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.frames = 0
        self._lock = threading.Lock()
        self._file: BinaryIO | None = self.path.open("wb")
        self._file.write(struct.pack("<IHHiIII", _MAGIC_US, 2, 4, 0, 0, _SNAPLEN, LINKTYPE_ETHERNET))
        self._file.flush()

    def write(self, frame: bytes, *, t_ns: int | None = None) -> None:
        """Append one frame stamped ``t_ns`` (Unix ns; default now). A closed writer ignores the call."""
        t = time.time_ns() if t_ns is None else t_ns
        seconds, micros = divmod(t // 1000, 1_000_000)
        record = struct.pack("<IIII", seconds, micros, len(frame), len(frame)) + bytes(frame)
        with self._lock:
            if self._file is None:
                return
            self._file.write(record)
            self._file.flush()
            self.frames += 1

    def close(self) -> None:
        """Close the file (idempotent)."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def __enter__(self) -> PcapWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_pcap(path: str | Path) -> Iterator[tuple[int, bytes]]:
    """``(t_ns, frame)`` for each record of a microsecond, little- or big-endian pcap file.

    :raises ValueError: the file is not a pcap file (naming it).
    """
    data = Path(path).read_bytes()
    if len(data) < 24:
        raise ValueError(f"{path}: too short for a pcap header")
    for order in ("<", ">"):
        if struct.unpack(order + "I", data[:4])[0] == _MAGIC_US:
            break
    else:
        raise ValueError(f"{path}: not a microsecond pcap file (magic {data[:4].hex()})")
    offset = 24
    while offset + 16 <= len(data):
        seconds, micros, caplen, _ = struct.unpack(order + "IIII", data[offset:offset + 16])
        offset += 16
        yield (seconds * 1_000_000 + micros) * 1000, data[offset:offset + caplen]
        offset += caplen
