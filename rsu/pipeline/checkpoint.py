"""Checkpoints of the embedded runner on local disk: one pickle file per checkpoint, written atomically
(temp file, fsync, rename, fsync of the folder), the newest ``keep`` kept; at start the newest readable one is
restored. A write that fails (a full disk: ``ENOSPC``) removes its temporary file, leaves the earlier
checkpoints as they were, and is counted (``write_errors``) with the file and the error (``last_error``, None
again after the next good write)."""

from __future__ import annotations

import logging
import pickle
import time
from pathlib import Path
from typing import Any

from rsu.core.diskio import atomic_write, write_error

__all__ = ["Checkpointer", "CHECKPOINT_FORMAT"]

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 1
_PREFIX, _SUFFIX = "ckpt-", ".pkl"


class Checkpointer:
    """Writes and reads checkpoints under ``directory`` for one set of operators (``fingerprint``)."""

    def __init__(self, directory: Path | str, *, keep: int = 3, fingerprint: str = "") -> None:
        self.dir = Path(directory)
        self.keep = max(1, keep)
        self.fingerprint = fingerprint
        self.counts = {"written": 0, "restored": 0, "unreadable": 0, "mismatched": 0, "write_errors": 0}
        self.last_error: dict[str, Any] | None = None
        self.last_ms: float | None = None
        self.last_bytes = 0

    def _files(self) -> list[Path]:
        if not self.dir.is_dir():
            return []
        return sorted(p for p in self.dir.iterdir() if p.name.startswith(_PREFIX) and p.name.endswith(_SUFFIX))

    def save(self, state: dict[str, Any]) -> Path:
        """Write ``state`` as the newest checkpoint; returns its path. OSError (counted, ``last_error`` set)
        when it cannot be written; the earlier checkpoints are then untouched."""
        t0 = time.perf_counter()
        doc = {"format": CHECKPOINT_FORMAT, "fingerprint": self.fingerprint, "created_ns": time.time_ns(),
               "state": state}
        data = pickle.dumps(doc, protocol=pickle.HIGHEST_PROTOCOL)
        path = self.dir
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            files = self._files()
            seq = int(files[-1].name[len(_PREFIX):-len(_SUFFIX)]) + 1 if files else 1
            path = self.dir / f"{_PREFIX}{seq:010d}{_SUFFIX}"
            atomic_write(path, data)
        except OSError as exc:
            self.counts["write_errors"] += 1
            self.last_error = write_error(path, exc)
            raise
        self.last_error = None
        for old in self._files()[:-self.keep]:
            old.unlink(missing_ok=True)
        self.counts["written"] += 1
        self.last_ms = (time.perf_counter() - t0) * 1e3
        self.last_bytes = len(data)
        return path

    def load_latest(self) -> dict[str, Any] | None:
        """The state of the newest readable checkpoint of the same operators, or None."""
        for path in reversed(self._files()):
            try:
                doc = pickle.loads(path.read_bytes())
            except Exception as exc:  # a torn or foreign file: try the one before
                log.warning("checkpoint %s unreadable (%s); trying an older one", path, exc)
                self.counts["unreadable"] += 1
                continue
            if not isinstance(doc, dict) or doc.get("format") != CHECKPOINT_FORMAT \
                    or doc.get("fingerprint") != self.fingerprint:
                log.warning("checkpoint %s belongs to other operators or format; ignored", path)
                self.counts["mismatched"] += 1
                continue
            self.counts["restored"] += 1
            log.info("restored operator state from %s", path)
            return doc["state"]
        return None

    def stats(self) -> dict[str, Any]:
        return {**self.counts, "dir": str(self.dir), "last_write_ms": None if self.last_ms is None
                else round(self.last_ms, 3), "last_bytes": self.last_bytes, "last_error": self.last_error}
