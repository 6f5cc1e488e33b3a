"""Alarm hysteresis per device: raise above one threshold, clear below a lower one, after a minimum duration."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AlarmRule", "DeviceAlarm"]


@dataclass(frozen=True, slots=True)
class AlarmRule:
    """``raise_threshold`` > ``clear_threshold``; a crossing must hold ``min_duration_s`` (event time)."""

    raise_threshold: float = 0.98
    clear_threshold: float = 0.6
    min_duration_s: float = 30.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.clear_threshold < self.raise_threshold <= 1.0:
            raise ValueError(
                f"alarm thresholds: need 0 <= clear_threshold < raise_threshold <= 1, got "
                f"clear_threshold={self.clear_threshold}, raise_threshold={self.raise_threshold}")
        if self.min_duration_s < 0:
            raise ValueError(f"min_duration_s: must be >= 0, got {self.min_duration_s}")


class DeviceAlarm:
    """The alarm state of one device, driven by its fault probabilities in event order.

    The alarm is raised once the score has stayed at or above ``raise_threshold`` for ``min_duration_s``
    and cleared once it has stayed below ``clear_threshold`` for ``min_duration_s``; scores in between keep
    the current state (and restart neither timer). Out-of-order scores (older than the last) are ignored.
    """

    __slots__ = ("rule", "active", "since_ns", "last_ns")

    def __init__(self, rule: AlarmRule) -> None:
        self.rule = rule
        self.active = False
        self.since_ns: int | None = None  # when the current run of crossing scores began
        self.last_ns: int | None = None

    def update(self, score: float, t_ns: int) -> bool | None:
        """Feed one score; returns True when the alarm is raised now, False when cleared now, else None."""
        if self.last_ns is not None and t_ns < self.last_ns:
            return None
        self.last_ns = t_ns
        crossing = score < self.rule.clear_threshold if self.active else score >= self.rule.raise_threshold
        if not crossing:
            self.since_ns = None
            return None
        if self.since_ns is None:
            self.since_ns = t_ns
        if (t_ns - self.since_ns) < self.rule.min_duration_s * 1e9:
            return None
        self.active = not self.active
        self.since_ns = None
        return self.active

    def snapshot(self) -> dict[str, object]:
        """Plain state (for a checkpoint)."""
        return {"active": self.active, "since_ns": self.since_ns, "last_ns": self.last_ns}
