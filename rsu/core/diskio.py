"""Writing state files so that a full disk (``ENOSPC``) or a crash never leaves a torn one: the checkpoint, the
held-safety journal and the Kafka journal's commit mark go through :func:`atomic_write`."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

__all__ = ["atomic_write", "fsync_dir", "write_error"]


def write_error(path: Path | str, exc: OSError) -> dict[str, Any]:
    """``{"file", "errno", "error"}`` of a failed write (``errno`` by name, e.g. ``ENOSPC``), for stats and health."""
    code = errno.errorcode.get(exc.errno or 0, str(exc.errno))
    return {"file": str(path), "errno": code, "error": exc.strerror or str(exc)}


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort where a folder cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace ``path`` with ``data``: a temporary file beside it, fsync (``durable``), rename, fsync of the
    folder. On OSError the temporary file is removed (it must not hold the space of a full disk) and ``path``
    is as it was; the error is raised."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise
    if durable:
        fsync_dir(path.parent)
