"""A persistent outbox of actuator commands: a command stays here until its actuator confirmed it.

File format (``outbox.jsonl`` in the plugin's state folder), one JSON object per line::

    {"op": "add", "cmd": {"command_id": ..., "actuator": ..., "action": "on", "reason": ..., "source": ...,
                          "t_event_ns": ...}}
    {"op": "done", "id": "<command_id>", "ok": true, "attempts": 2}

``add`` lines are flushed and fsynced before :meth:`Journal.add` returns, so a command handed to the plugin
survives a crash; on open the file is replayed (pending = added and not done, in order) and compacted.
A command id seen before (pending or among the recent done ones) is not added again. Without a folder the
journal lives in memory only.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from rsu_sdk import ActuationCommand

__all__ = ["Journal", "command_from_json", "command_to_json"]

_REMEMBER_DONE = 4096


def command_to_json(cmd: ActuationCommand) -> dict[str, Any]:
    return {"command_id": cmd.command_id, "actuator": cmd.actuator, "action": cmd.action, "reason": cmd.reason,
            "source": cmd.source, "t_event_ns": cmd.t_event_ns}


def command_from_json(raw: dict[str, Any]) -> ActuationCommand:
    return ActuationCommand(command_id=raw["command_id"], actuator=raw["actuator"], action=raw["action"],
                            reason=raw.get("reason", ""), source=raw["source"], t_event_ns=int(raw["t_event_ns"]))


class Journal:
    """Pending commands per actuator, in the order they were added; thread-safe.

    :param folder: where ``outbox.jsonl`` lives, or None for memory only.
    """

    FILE = "outbox.jsonl"

    def __init__(self, folder: Path | None) -> None:
        self._lock = threading.Lock()
        self._pending: OrderedDict[str, ActuationCommand] = OrderedDict()
        self._done: OrderedDict[str, bool] = OrderedDict()
        self.corrupt_lines = 0
        self._file = None
        self.path = None if folder is None else Path(folder) / self.FILE
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.exists():
                self._replay(self.path.read_text(encoding="utf-8").splitlines())
            self._compact()

    # -- persistence ------------------------------------------------------------------------------

    def _replay(self, lines: list[str]) -> None:
        for line in lines:
            try:
                rec = json.loads(line)
                if rec["op"] == "add":
                    cmd = command_from_json(rec["cmd"])
                    if cmd.command_id not in self._done:
                        self._pending[cmd.command_id] = cmd
                elif rec["op"] == "done":
                    self._pending.pop(rec["id"], None)
                    self._remember(rec["id"], bool(rec.get("ok", True)))
            except (ValueError, KeyError, TypeError):  # a torn last line after a crash, or garbage
                self.corrupt_lines += 1

    def _compact(self) -> None:
        assert self.path is not None
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as f:
            for cid, ok in self._done.items():
                f.write(json.dumps({"op": "done", "id": cid, "ok": ok}) + "\n")
            for cmd in self._pending.values():
                f.write(json.dumps({"op": "add", "cmd": command_to_json(cmd)}) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self._file = self.path.open("a", encoding="utf-8")

    def _write(self, record: dict[str, Any], *, sync: bool) -> None:
        if self._file is None:
            return
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        if sync:
            os.fsync(self._file.fileno())

    def _remember(self, cid: str, ok: bool) -> None:
        self._done[cid] = ok
        while len(self._done) > _REMEMBER_DONE:
            self._done.popitem(last=False)

    # -- API --------------------------------------------------------------------------------------

    def add(self, cmd: ActuationCommand) -> bool:
        """Record ``cmd`` durably; False (and nothing recorded) when its id was seen before."""
        with self._lock:
            if cmd.command_id in self._pending or cmd.command_id in self._done:
                return False
            self._write({"op": "add", "cmd": command_to_json(cmd)}, sync=True)
            self._pending[cmd.command_id] = cmd
            return True

    def done(self, command_id: str, *, ok: bool, attempts: int) -> None:
        """Mark a command finished (confirmed, or given up)."""
        with self._lock:
            if self._pending.pop(command_id, None) is None:
                return
            self._write({"op": "done", "id": command_id, "ok": ok, "attempts": attempts}, sync=True)
            self._remember(command_id, ok)

    def pending(self, actuator: str | None = None) -> list[ActuationCommand]:
        """Commands not yet finished, oldest first (of one actuator, or all)."""
        with self._lock:
            return [c for c in self._pending.values() if actuator is None or c.actuator == actuator]

    def next_for(self, actuator: str) -> ActuationCommand | None:
        """The oldest unfinished command of ``actuator``."""
        with self._lock:
            return next((c for c in self._pending.values() if c.actuator == actuator), None)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
