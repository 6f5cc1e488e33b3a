"""The idle / busy power governor: quiet for ``idle_after_s`` -> lower the CPU cap; activity -> restore it.

Quiet means: activity products at or below ``idle_below_per_s``, no active alarm, no busy signal (the
detector's adaptive rate in its busy state) and CPU load at or below ``busy_cpu_pct``. Going idle writes each
cpufreq policy's ``scaling_governor`` (``idle_governor``, when offered) and ``scaling_max_freq``
(``idle_max_khz`` raised to what the hardware allows), and sets ``nvpmodel.idle_mode`` where the binary
exists; the values read just before are written back when the box turns busy, and on :meth:`stop`.

Where the box may not write (a container, no permission, no cpufreq) one clear line is logged and the
governor carries on tracking the state without touching anything.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from rsu.power.nvpmodel import Nvpmodel
from rsu.power.sysfs import CpuFreq, Policy, PowerWriteError, idle_cap_khz

__all__ = ["PowerGovernor"]

log = logging.getLogger(__name__)


class PowerGovernor:
    """Idle / busy state machine. Feed it with :meth:`note_activity` / :meth:`set_alarm`; :meth:`tick` decides.

    :param cfg: the ``power`` section (:class:`rsu.config.power.PowerConfig`).
    :param busy_signals: callables that return True while some part of the box is busy.
    :param cpu_percent: CPU load 0-100 (psutil in the box; None: not watched).
    """

    def __init__(self, cfg: Any, *, cpufreq: CpuFreq | None = None, nvpmodel: Nvpmodel | None = None,
                 busy_signals: Sequence[Callable[[], bool]] = (), cpu_percent: Callable[[], float] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.cfg = cfg
        self.cpufreq = cpufreq or CpuFreq(cfg.sysfs_root)
        self.nvpmodel = nvpmodel if nvpmodel is not None else Nvpmodel(cfg.nvpmodel.binary)
        self.busy_signals = list(busy_signals)
        self.cpu_percent = cpu_percent
        self._clock = clock
        self._lock = threading.Lock()
        self._activity = 0
        self._alarms: set[tuple[str, ...]] = set()
        self._last_tick = clock()
        self._quiet_since: float | None = self._last_tick
        self.idle = False
        self.can_write = True
        self._saved: list[tuple[Policy, str | None, int | None]] = []
        self._saved_mode: int | None = None
        self.counts = {"to_idle": 0, "to_busy": 0, "writes": 0, "write_errors": 0}
        self.rate_per_s = 0.0
        self.history: list[dict[str, Any]] = []
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.policies = len(self.cpufreq.policy_dirs())
        self._use_nvpmodel = cfg.nvpmodel.idle_mode is not None and self.nvpmodel.available
        if not self.policies and not self._use_nvpmodel:
            self.can_write = False
            log.warning("power: no cpufreq policies under %s (a container or VM?); the CPU frequency stays as it "
                        "is, carrying on", self.cpufreq.base)

    # -- inputs (any thread) ------------------------------------------------------------------------------

    def note_activity(self, n: int = 1) -> None:
        """Count ``n`` activity products; while idle, enough of them wake the governor at once."""
        with self._lock:
            self._activity += n
            wake = self.idle and self._activity > self.cfg.idle_below_per_s * self.cfg.interval_s
        if wake:
            self._wake.set()

    def set_alarm(self, key: tuple[str, ...], active: bool) -> None:
        """An alarm raised (``active``) or cleared; an active alarm keeps the box busy."""
        with self._lock:
            (self._alarms.add if active else self._alarms.discard)(key)
            wake = self.idle and active
        if wake:
            self._wake.set()

    # -- the decision -------------------------------------------------------------------------------------

    def tick(self) -> str:
        """Look at the activity since the last tick; lower or restore the cap. Returns ``idle`` or ``busy``."""
        now = self._clock()
        with self._lock:
            count, self._activity = self._activity, 0
            alarms = len(self._alarms)
        elapsed, self._last_tick = now - self._last_tick, now
        self.rate_per_s = count / max(elapsed, self.cfg.interval_s)
        reasons = []
        if self.rate_per_s > self.cfg.idle_below_per_s:
            reasons.append(f"{self.rate_per_s:.1f} activity products/s > {self.cfg.idle_below_per_s:g}")
        if alarms:
            reasons.append(f"{alarms} active alarm(s)")
        if any(signal() for signal in self.busy_signals):
            reasons.append("detector rate busy")
        if self.cpu_percent is not None:
            load = self.cpu_percent()
            if load > self.cfg.busy_cpu_pct:
                reasons.append(f"CPU {load:.0f}% > {self.cfg.busy_cpu_pct:g}%")
        if reasons:
            self._quiet_since = None
            if self.idle:
                self._to_busy("; ".join(reasons))
        else:
            if self._quiet_since is None:
                self._quiet_since = now
            if not self.idle and now - self._quiet_since >= self.cfg.idle_after_s:
                self._to_idle(f"quiet for {now - self._quiet_since:.0f} s")
        return "idle" if self.idle else "busy"

    def _note(self, state: str, reason: str) -> None:
        self.history.append({"t": time.time_ns(), "to": state, "reason": reason})
        del self.history[:-50]
        log.info("power: %s (%s)", state, reason)

    def _to_idle(self, reason: str) -> None:
        self.idle = True
        self.counts["to_idle"] += 1
        self._note("idle", reason)
        if self.can_write:
            try:
                self._lower()
            except PowerWriteError as exc:
                self._give_up(exc)

    def _to_busy(self, reason: str) -> None:
        self.idle = False
        self.counts["to_busy"] += 1
        self._note("busy", reason)
        self._restore()

    def _lower(self) -> None:
        cfg = self.cfg
        for policy in self.cpufreq.read():
            self._saved.append((policy, policy.governor, policy.max_khz))
            gov = cfg.idle_governor
            if gov and policy.governor not in (None, gov) and (not policy.governors or gov in policy.governors):
                self.cpufreq.set_governor(policy, gov)
                self.counts["writes"] += 1
            cap = idle_cap_khz(policy, cfg.idle_max_khz)
            if policy.max_khz is None or cap != policy.max_khz:
                self.cpufreq.set_max_khz(policy, cap)
                self.counts["writes"] += 1
            log.info("power: %s capped at %d kHz (governor %s)", policy.name, cap, gov or policy.governor)
        if self._use_nvpmodel:
            self._saved_mode = self.nvpmodel.query()[0]
            self.nvpmodel.set_mode(cfg.nvpmodel.idle_mode)
            self.counts["writes"] += 1

    def _restore(self) -> None:
        """Write back what was read before lowering (also after a partial failure)."""
        saved, self._saved = self._saved, []
        mode, self._saved_mode = self._saved_mode, None
        try:
            for policy, governor, max_khz in saved:
                if max_khz is not None:
                    self.cpufreq.set_max_khz(policy, max_khz)
                    self.counts["writes"] += 1
                if governor is not None and self.cpufreq.read_policy(policy.path).governor != governor:
                    self.cpufreq.set_governor(policy, governor)
                    self.counts["writes"] += 1
            if mode is not None:
                self.nvpmodel.set_mode(mode)
                self.counts["writes"] += 1
        except PowerWriteError as exc:
            self._give_up(exc)

    def _give_up(self, exc: PowerWriteError) -> None:
        self.counts["write_errors"] += 1
        if self.can_write:
            self.can_write = False
            log.warning("power: cannot set the CPU frequency cap (%s); power management off, carrying on", exc)
            self._restore()

    # -- thread and stats ---------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="power", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.cfg.interval_s)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.tick()
            except Exception:  # never take the box down for power management
                log.exception("power: governor tick failed")

    def stop(self) -> None:
        """Stop the thread and leave the CPU as found (restore the cap if idle)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5.0)
        if self.idle:
            self.idle = False
            self._note("busy", "stopping")
            self._restore()

    def stats(self) -> dict[str, Any]:
        return {"state": "idle" if self.idle else "busy", "can_write": self.can_write, "policies": self.policies,
                "nvpmodel": self._use_nvpmodel, "activity_per_s": round(self.rate_per_s, 2),
                "active_alarms": len(self._alarms), **self.counts, "recent_changes": list(self.history[-10:])}
