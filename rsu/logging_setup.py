"""Logging of the ``rsu`` command: plain text (default) or one JSON object per line (``--log-format json``).

JSON lines carry ``ts`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, ``thread``, and ``source`` and
``plugin`` fields: taken from ``extra={"source": ..., "plugin": ...}`` when given, else worked out from the
logger name (``rsu.plugin.<name>``) and the thread (``source-<id>``, ``grab-<id>``, ``rsu-plugin-<name>``);
null when neither says. An exception adds ``exc_type`` and ``exc`` (the formatted traceback).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import Any, Literal

__all__ = ["JsonFormatter", "configure", "TEXT_FORMAT"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_SOURCE_THREADS = ("source-", "grab-")
_PLUGIN_THREAD = "rsu-plugin-"
_PLUGIN_LOGGER = "rsu.plugin."
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def _source_of(record: logging.LogRecord) -> str | None:
    value = getattr(record, "source", None)
    if value:
        return str(value)
    for prefix in _SOURCE_THREADS:
        if record.threadName and record.threadName.startswith(prefix):
            return record.threadName[len(prefix):]
    return None


def _plugin_of(record: logging.LogRecord) -> str | None:
    value = getattr(record, "plugin", None)
    if value:
        return str(value)
    if record.name.startswith(_PLUGIN_LOGGER):
        return record.name[len(_PLUGIN_LOGGER):].split(".", 1)[0]
    if record.threadName and record.threadName.startswith(_PLUGIN_THREAD):
        return record.threadName[len(_PLUGIN_THREAD):]
    return None


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module doc); other ``extra`` fields are kept when JSON-able."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "source": _source_of(record),
            "plugin": _plugin_of(record),
            "thread": record.threadName,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in doc:
                doc[key] = value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)
        if record.exc_info:
            doc["exc_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def configure(verbose: int = 0, fmt: Literal["text", "json"] = "text") -> None:
    """Log to stderr at WARNING (``verbose`` 1: INFO, 2: DEBUG) in ``fmt``.

    Like :func:`logging.basicConfig`, it leaves a root logger that something else already configured (an
    embedding program, pytest) alone; a handler of an earlier call is replaced."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_rsu_handler", False)]:
        root.removeHandler(old)
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler._rsu_handler = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.WARNING - 10 * min(max(verbose, 0), 2))
