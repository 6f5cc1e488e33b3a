"""The C allocator's settings for a long-running box (glibc only; a no-op elsewhere).

Measured on the demo site: the Python heap stays flat over a soak while the process's resident memory climbs
about 16 MB an hour. The growth is in glibc's arenas — ``mallinfo2`` shows their free space rising while the
bytes in use stay the same: camera frames of half a megabyte and more, freed on one thread after being
allocated on another, fragment the per-thread arenas (the dynamic mmap threshold rises to the frame size after
the first frame, so every later frame lands in an arena). Three settings stop that:

- a fixed ``M_MMAP_THRESHOLD``: blocks at or above it (frames, tensors) are mapped on their own and go back to
  the kernel when freed; a fixed value also turns off the dynamic threshold;
- ``M_ARENA_MAX``: fewer arenas for the box's few dozen threads, so freed space is found again;
- ``malloc_trim(0)`` on an interval: returns free pages inside the arenas to the kernel.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
from typing import Any

__all__ = ["AllocatorSettings", "glibc", "tune", "trim", "heap_info"]

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8
_lock = threading.Lock()
_libc: Any = None
_probed = False


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


class AllocatorSettings:
    """What :func:`tune` applies: thresholds in bytes, arena count; 0 leaves a setting as glibc has it."""

    def __init__(self, mmap_threshold: int = 256 * 1024, arena_max: int = 4, trim_threshold: int = 1024 * 1024) -> None:
        if mmap_threshold < 0 or arena_max < 0 or trim_threshold < 0:
            raise ValueError("allocator settings must be >= 0")
        self.mmap_threshold = mmap_threshold
        self.arena_max = arena_max
        self.trim_threshold = trim_threshold


def glibc() -> Any:
    """The process's glibc (with ``mallopt`` and ``malloc_trim``), or None on another C library."""
    global _libc, _probed
    with _lock:
        if not _probed:
            _probed = True
            try:
                lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                if all(hasattr(lib, name) for name in ("mallopt", "malloc_trim", "gnu_get_libc_version")):
                    lib.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
                    lib.malloc_trim.argtypes = [ctypes.c_size_t]
                    _libc = lib
            except OSError:
                _libc = None
        return _libc


def tune(settings: AllocatorSettings) -> dict[str, Any]:
    """Apply ``settings``; returns what was applied (``{"allocator": "none"}`` where glibc is absent)."""
    lib = glibc()
    if lib is None:
        return {"allocator": "none"}
    applied: dict[str, Any] = {"allocator": "glibc"}
    for option, key, value in ((_M_MMAP_THRESHOLD, "mmap_threshold", settings.mmap_threshold),
                               (_M_TRIM_THRESHOLD, "trim_threshold", settings.trim_threshold),
                               (_M_ARENA_MAX, "arena_max", settings.arena_max)):
        if value > 0:
            ok = bool(lib.mallopt(option, min(value, 2**31 - 1)))
            applied[key] = value if ok else f"refused ({value})"
            if not ok:
                log.warning("mallopt refused %s=%d", key, value)
    return applied


def trim() -> bool:
    """Give free memory at the top of and inside the heap's arenas back to the kernel; False without glibc."""
    lib = glibc()
    return bool(lib is not None and lib.malloc_trim(0))


def heap_info() -> dict[str, float] | None:
    """The C heap in MB (``arena``: obtained from the kernel by the arenas, ``used``, ``free``, ``mmap``),
    or None where ``mallinfo2`` is unavailable (not glibc, or glibc < 2.33)."""
    lib = glibc()
    if lib is None or not hasattr(lib, "mallinfo2"):
        return None
    lib.mallinfo2.restype = _MallInfo2
    info = lib.mallinfo2()
    mb = 1024.0 * 1024.0
    return {"arena_mb": round(info.arena / mb, 2), "used_mb": round(info.uordblks / mb, 2),
            "free_mb": round(info.fordblks / mb, 2), "mmap_mb": round(info.hblkhd / mb, 2)}
