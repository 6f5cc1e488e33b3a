"""The ``storage`` component of the heartbeat: the box's own files (operator checkpoints, the Kafka output's
journal, the held-safety journal) and whether their last write went through.

``degraded`` while the last write of any of them failed (a full disk), with the file and the error
(``ENOSPC``) in the message; ``ok`` again after the next good write. The box keeps running and publishing
either way: a checkpoint that cannot be written leaves the last good one; a journal record the disk refuses
is counted (a safety record still goes out live).
"""

from __future__ import annotations

from typing import Any

__all__ = ["storage_component"]


def _stats(obj: Any) -> dict[str, Any]:
    try:
        return dict(obj.stats())
    except Exception as exc:  # noqa: BLE001 - one component's stats must not stop the heartbeat
        return {"error": f"{type(exc).__name__}: {exc}"}


def _checkpoints(box: Any) -> dict[str, Any] | None:
    for stage in getattr(box, "inline_stages", ()):  # a box without stages (an embedding, a test double)
        ckpt = _stats(stage).get("checkpoint")
        if isinstance(ckpt, dict):
            return {k: ckpt.get(k) for k in ("dir", "written", "write_errors", "last_error", "last_bytes")}
    return None


def _kafka_journal(box: Any) -> dict[str, Any] | None:
    kafka = getattr(getattr(box, "sink", None), "kafka", None)
    if kafka is None:
        return None
    stats = _stats(kafka)
    journal = stats.get("journal") or {}
    return {"dir": journal.get("dir"), "write_errors": journal.get("write_errors"),
            "last_error": journal.get("last_error"), "unjournalled": stats.get("unjournalled"),
            "unjournalled_sent_live": stats.get("unjournalled_sent_live")}


def storage_component(box: Any) -> tuple[str, str, str, str, dict[str, Any]] | None:
    """``(topic source, component, status, message, details)`` for the heartbeat, or None when the box keeps
    no files (no checkpoints, no Kafka journal)."""
    details = {name: part for name, part in (("checkpoint", _checkpoints(box)),
                                             ("kafka_journal", _kafka_journal(box))) if part is not None}
    if not details:
        return None
    failing = [(name, part["last_error"]) for name, part in details.items() if part.get("last_error")]
    if not failing:
        return "storage", "storage", "ok", "writing", details
    message = "; ".join(f"{name}: cannot write {err.get('file')}: {err.get('errno')} ({err.get('error')})"
                        for name, err in failing)
    return "storage", "storage", "degraded", message, details
