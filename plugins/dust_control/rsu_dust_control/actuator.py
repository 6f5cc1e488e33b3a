"""Carry out one actuator's commands, in order, exactly once, on a background thread.

For each pending command (oldest first, taken from the :class:`~rsu_dust_control.journal.Journal`):
read the coil; write it only when it is not already in the wanted state (so a write whose answer was lost,
e.g. because the actuator restarted, is never repeated); read back until confirmed; then mark it done in
the journal and report the outcome. Failures are retried with exponential backoff, for ever, until the
command is confirmed or the plugin stops (what is left stays in the journal for the next start). After
``alarm_after_attempts`` failed tries or ``alarm_after_s`` seconds the actuator is reported unreachable
(once), and cleared when it answers again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from rsu_sdk import ActuationCommand

from rsu_dust_control.journal import Journal
from rsu_dust_control.modbus_io import ActuatorError, CoilLink
from rsu_dust_control.settings import ActuationPolicy, ModbusPoint

__all__ = ["ActuatorWorker", "Result"]


@dataclass(frozen=True, slots=True)
class Result:
    """What became of a command: ``ok`` once confirmed; ``writes`` is 0 when the coil was already right."""

    command: ActuationCommand
    ok: bool
    attempts: int
    writes: int
    error: str | None = None


class ActuatorWorker:
    """One thread per actuator.

    :param on_result: called with each finished command's :class:`Result` (on this worker's thread).
    :param on_reachable: called with ``(False, reason)`` when the actuator is declared unreachable and with
        ``(True, "")`` when it answers again.
    """

    def __init__(
        self,
        actuator: str,
        point: ModbusPoint,
        journal: Journal,
        policy: ActuationPolicy,
        *,
        on_result: Callable[[Result], None],
        on_reachable: Callable[[bool, str], None],
        logger: logging.Logger | None = None,
    ) -> None:
        self.actuator = actuator
        self.journal = journal
        self.policy = policy
        self.link = CoilLink(point, timeout_s=policy.timeout_s)
        self._on_result = on_result
        self._on_reachable = on_reachable
        self.log = logger or logging.getLogger(__name__)
        self._wake = threading.Condition()
        self._stop = threading.Event()
        self._busy = False
        self.unreachable = False
        self.stats = {"confirmed": 0, "attempts": 0, "writes": 0, "failures": 0, "skipped_writes": 0}
        self._thread = threading.Thread(target=self._loop, name=f"dust-actuator-{actuator}", daemon=True)

    # -- control ----------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def notify(self) -> None:
        """A command for this actuator was added to the journal."""
        with self._wake:
            self._wake.notify()

    def running(self) -> bool:
        """Whether the worker thread is alive (False once :meth:`stop` returned)."""
        return self._thread.is_alive()

    def idle(self) -> bool:
        return not self._busy and self.journal.next_for(self.actuator) is None

    def stop(self, deadline: float) -> None:
        """Let pending commands finish until ``deadline`` (monotonic), then stop the thread."""
        while time.monotonic() < deadline and not self.idle() and self._thread.is_alive():
            time.sleep(0.02)
        self._stop.set()
        self.notify()
        self._thread.join(max(0.0, deadline - time.monotonic()) + self.policy.timeout_s * 3)
        self.link.close()

    # -- work -------------------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self._wake:
                cmd = self.journal.next_for(self.actuator)
                self._busy = cmd is not None
                if cmd is None:
                    self._wake.wait(0.5)
                    continue
            try:
                self._execute(cmd)
            except Exception:  # noqa: BLE001 - a bug here must not kill the worker; the command stays pending
                self.log.exception("actuator %s: unexpected error on %s", self.actuator, cmd.command_id)
                self._stop.wait(self.policy.retry_max_s)
            finally:
                self._busy = False

    def _execute(self, cmd: ActuationCommand) -> None:
        want = cmd.action == "on"
        attempts, writes, first_failure = 0, 0, None
        delay = self.policy.retry_initial_s
        while not self._stop.is_set():
            attempts += 1
            self.stats["attempts"] += 1
            try:
                if self.link.read_coil() != want:
                    writes += 1
                    self.stats["writes"] += 1
                    self.link.write_coil(want)
                else:
                    self.stats["skipped_writes"] += 1
                if self.link.confirmed(want, timeout_s=self.policy.confirm_timeout_s):
                    self._finish(cmd, attempts, writes)
                    return
                error = f"read-back did not confirm {cmd.action} within {self.policy.confirm_timeout_s:g} s"
            except ActuatorError as exc:
                error = str(exc)
            self.stats["failures"] += 1
            self.log.warning("actuator %s: %s attempt %d failed: %s", self.actuator, cmd.command_id, attempts, error)
            now = time.monotonic()
            first_failure = now if first_failure is None else first_failure
            if not self.unreachable and (attempts >= self.policy.alarm_after_attempts
                                         or now - first_failure >= self.policy.alarm_after_s):
                self.unreachable = True
                self._on_reachable(False, error)
            self._stop.wait(delay)
            delay = min(delay * 2, self.policy.retry_max_s)

    def _finish(self, cmd: ActuationCommand, attempts: int, writes: int) -> None:
        self.journal.done(cmd.command_id, ok=True, attempts=attempts)
        self.stats["confirmed"] += 1
        if self.unreachable:
            self.unreachable = False
            self._on_reachable(True, "")
        self._on_result(Result(command=cmd, ok=True, attempts=attempts, writes=writes))
