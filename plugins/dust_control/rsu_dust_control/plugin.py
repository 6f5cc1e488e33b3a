"""The ``dust_control`` plugin: air-station readings in, sprayer commands out over Modbus TCP.

``rsu_on_reading`` (on the plugin's worker thread) runs the pure :class:`~rsu_dust_control.rules.RuleEngine`,
records each resulting command durably in the outbox journal, emits it and wakes that actuator's worker; it
never touches the network, so it returns in well under a millisecond plus one fsync per command. Each
actuator's worker thread then writes, confirms and reports (see :mod:`rsu_dust_control.actuator`).
``rsu_on_command`` executes commands other plugins emit for this plugin's actuators the same way.

Everything is emitted with ``source`` = the actuator id; the host publishes it with its payload code and
routes it to the other plugins (this plugin builds no wire payload): the :class:`~rsu_sdk.ActuationCommand`
when issued and the :class:`~rsu_sdk.ActuationOutcome` when confirmed on ``rsu/<site>/actuation/<actuator>``
(``rsu.actuation.command/1``, ``rsu.actuation.outcome/1``), and an :class:`~rsu_sdk.Alarm` (kind
``actuator_unreachable``) when the actuator stops / starts answering on ``rsu/<site>/fault/<actuator>``
(``rsu.fault.alarm/1``).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rsu_sdk import ActuationCommand, ActuationOutcome, Alarm, PluginContext, SensorReading, hookimpl

from rsu_dust_control.actuator import ActuatorWorker, Result
from rsu_dust_control.journal import Journal
from rsu_dust_control.override import OverrideCoil
from rsu_dust_control.rules import Decision, EngineState, RuleEngine
from rsu_dust_control.settings import CONFIG_SCHEMA, Settings, parse_settings

__all__ = ["DustControl"]

ENGINE_FILE = "engine.json"


class DustControl:
    """The plugin object the host instantiates from the ``rsu.plugins`` entry point ``dust_control``."""

    def __init__(self) -> None:
        self.context: PluginContext | None = None
        self.settings: Settings | None = None
        self.engine: RuleEngine | None = None
        self.journal: Journal | None = None
        self.workers: dict[str, ActuatorWorker] = {}
        self.override: OverrideCoil | None = None
        self.counts = {"readings": 0, "commands": 0, "duplicates": 0, "outcomes": 0, "alarms": 0,
                       "emit_errors": 0}
        self._lock = threading.Lock()

    # -- hooks ------------------------------------------------------------------------------------

    @hookimpl
    def rsu_config_schema(self) -> Mapping[str, Any]:
        return CONFIG_SCHEMA

    @hookimpl
    def rsu_on_start(self, context: PluginContext) -> None:
        self.context = context
        self.settings = parse_settings(context.config, name=context.name)
        self.journal = Journal(context.state_dir)
        self.engine = RuleEngine(self.settings, self._load_engine_state(context.state_dir))
        policy = self.settings.actuation
        for sp in self.settings.sprayers:
            self.workers[sp.id] = ActuatorWorker(
                sp.id, sp.modbus, self.journal, policy, logger=context.logger, on_result=self._on_result,
                on_reachable=lambda ok, why, _a=sp.id: self._on_reachable(_a, ok, why))
        if self.settings.override.coil is not None:
            self.override = OverrideCoil(self.settings.override.coil, poll_s=self.settings.override.poll_s,
                                         timeout_s=policy.timeout_s, logger=context.logger)
            self.override.start()
        pending = self.journal.pending()
        if pending:
            context.logger.warning("resuming %d unconfirmed actuator command(s) from the journal", len(pending))
        for worker in self.workers.values():
            worker.start()

    @hookimpl
    def rsu_on_reading(self, reading: SensorReading) -> None:
        if self.engine is None:
            return
        self.counts["readings"] += 1
        hold = self.override is not None and self.override.active
        decisions = self.engine.on_reading(reading, hold=hold)
        for decision in decisions:
            self.submit(self._command(decision))
        if decisions:
            self._save_engine_state()

    @hookimpl
    def rsu_on_command(self, command: ActuationCommand) -> None:
        """Execute a command another plugin emitted, when it is for one of this plugin's actuators."""
        if self.journal is not None and command.actuator in self.workers:
            self.submit(command, announce=False)

    @hookimpl
    def rsu_on_stop(self) -> None:
        if self.context is None or self.settings is None:
            return
        deadline = time.monotonic() + self.settings.actuation.stop_timeout_s
        threads = [threading.Thread(target=w.stop, args=(deadline,)) for w in self.workers.values()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if self.override is not None:
            self.override.stop()
        self._save_engine_state()
        if self.journal is not None:
            left = self.journal.pending()
            if left:
                self.context.logger.warning("%d actuator command(s) unconfirmed at stop; kept for the next start",
                                            len(left))
            self.journal.close()

    # -- commands ---------------------------------------------------------------------------------

    def submit(self, cmd: ActuationCommand, *, announce: bool = True) -> bool:
        """Queue a command for its actuator (durably), emit it (unless ``announce`` is False: it came from
        another plugin, which emitted it already) and wake the worker; never blocks on I/O beyond one fsync.
        Returns False for an unknown actuator or an id seen before."""
        assert self.journal is not None
        worker = self.workers.get(cmd.actuator)
        if worker is None or not self.journal.add(cmd):
            self.counts["duplicates"] += worker is not None
            return False
        self.counts["commands"] += 1
        if announce:
            self._emit(cmd)
        worker.notify()
        return True

    def _command(self, d: Decision) -> ActuationCommand:
        assert self.context is not None
        return ActuationCommand(source=d.sprayer, t_event_ns=d.t_event_ns, actuator=d.sprayer,
                                action=d.action, command_id=f"{d.sprayer}:{d.action}:{d.t_event_ns}",
                                reason=d.reason)

    def _on_result(self, result: Result) -> None:
        assert self.context is not None
        cmd = result.command
        now = time.time_ns()
        with self._lock:
            self.counts["outcomes"] += 1
        self._emit(ActuationOutcome(source=cmd.actuator, t_event_ns=now, command=cmd, ok=result.ok,
                                    attempts=result.attempts, error=result.error))

    def _on_reachable(self, actuator: str, ok: bool, reason: str) -> None:
        assert self.context is not None
        now = time.time_ns()
        message = f"actuator {actuator} answers again" if ok else f"actuator {actuator} unreachable: {reason}"
        with self._lock:
            self.counts["alarms"] += 1
        self._emit(Alarm(source=actuator, t_event_ns=now, device=actuator, kind="actuator_unreachable",
                         active=not ok, severity="info" if ok else "critical", message=message))

    # -- plumbing ---------------------------------------------------------------------------------

    def _emit(self, product: ActuationCommand | ActuationOutcome | Alarm) -> None:
        """Hand a product to the host (which publishes and routes it); called from several threads."""
        assert self.context is not None
        try:
            self.context.emit(product)
        except Exception as exc:  # noqa: BLE001 - the host's emitter failing must not stop the worker
            with self._lock:
                self.counts["emit_errors"] += 1
            self.context.logger.warning("could not emit %s: %s", type(product).__name__, exc)

    def _load_engine_state(self, folder: Path | None) -> EngineState | None:
        if folder is None or not (Path(folder) / ENGINE_FILE).exists():
            return None
        try:
            return EngineState.from_dict(json.loads((Path(folder) / ENGINE_FILE).read_text(encoding="utf-8")))
        except (ValueError, TypeError, KeyError) as exc:
            assert self.context is not None
            self.context.logger.warning("ignoring unreadable %s: %s", ENGINE_FILE, exc)
            return None

    def _save_engine_state(self) -> None:
        folder = self.context.state_dir if self.context else None
        if folder is None or self.engine is None:
            return
        path = Path(folder) / ENGINE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.engine.state.as_dict()), encoding="utf-8")
        os.replace(tmp, path)

    def status(self) -> dict[str, Any]:
        """Counters and per-actuator state (for ``rsu plugins list`` and tests)."""
        return {**self.counts, "pending": len(self.journal.pending()) if self.journal else 0,
                "actuators": {a: {**w.stats, "unreachable": w.unreachable} for a, w in self.workers.items()}}
