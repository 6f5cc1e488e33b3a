"""Score fault alarms against the simulator's ground truth: precision, recall, false alarms per day and
warning lead time (``rsu eval furnace``).

Matching rules (per device, event time):
- an alarm *detects* an episode when it is raised between the episode's precursor start and its fault end;
  the lead time is ``fault_start - first raise`` (negative when raised after the fault began);
- an alarm raised from precursor start to ``recovery_s`` after the fault end belongs to that episode
  (true positive for precision); every other alarm is a false alarm;
- false alarms per day = false alarms / monitored device-days.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["RaisedAlarm", "score_alarms"]


@dataclass(frozen=True, slots=True)
class RaisedAlarm:
    device: str
    t_ns: int


def _episode_ns(ep: Mapping[str, Any], key: str, t0_ns: int) -> int:
    if f"{key}_ns" in ep:
        return int(ep[f"{key}_ns"])
    return t0_ns + int(round(float(ep[f"{key}_s"]) * 1e9))


def score_alarms(
    episodes: Sequence[Mapping[str, Any]],
    alarms: Iterable[RaisedAlarm],
    *,
    device_seconds: float,
    recovery_s: float = 120.0,
    t0_ns: int = 0,
) -> dict[str, Any]:
    """Return the DESIGN keys ``precision``, ``recall``, ``false_alarms_per_day``, ``lead_time_median_s``
    plus counts, lead-time spread and recall per fault kind.

    :param episodes: ground-truth episodes (``device``, ``kind``, ``precursor_start``/``fault_start``/
        ``fault_end`` as ``*_ns`` or ``*_s`` from ``t0_ns``).
    :param alarms: every raise (not clear) the pipeline published.
    :param device_seconds: monitored time summed over devices.
    """
    if device_seconds <= 0:
        raise ValueError(f"device_seconds: must be > 0, got {device_seconds}")
    eps = [(str(e["device"]), str(e.get("kind", "fault")), _episode_ns(e, "precursor_start", t0_ns),
            _episode_ns(e, "fault_start", t0_ns), _episode_ns(e, "fault_end", t0_ns)) for e in episodes]
    rec_ns = int(recovery_s * 1e9)
    first_raise: dict[int, int] = {}
    false_alarms = matched = total = 0
    for alarm in sorted(alarms, key=lambda a: a.t_ns):
        total += 1
        hit = None
        for i, (dev, _kind, pre, _start, end) in enumerate(eps):
            if dev == alarm.device and pre <= alarm.t_ns <= end + rec_ns:
                hit = i
                break
        if hit is None:
            false_alarms += 1
            continue
        matched += 1
        if alarm.t_ns <= eps[hit][4] and hit not in first_raise:
            first_raise[hit] = alarm.t_ns
    leads = np.array([(eps[i][3] - t) / 1e9 for i, t in first_raise.items()], dtype=np.float64)
    kinds: dict[str, dict[str, int]] = {}
    for i, (_dev, kind, *_rest) in enumerate(eps):
        k = kinds.setdefault(kind, {"episodes": 0, "detected": 0})
        k["episodes"] += 1
        k["detected"] += int(i in first_raise)
    days = device_seconds / 86400.0
    return {
        "precision": round(matched / total, 4) if total else None,
        "recall": round(len(first_raise) / len(eps), 4) if eps else None,
        "false_alarms_per_day": round(false_alarms / days, 3),
        "lead_time_median_s": round(float(np.median(leads)), 1) if leads.size else None,
        "lead_time_p10_s": round(float(np.percentile(leads, 10)), 1) if leads.size else None,
        "lead_time_p90_s": round(float(np.percentile(leads, 90)), 1) if leads.size else None,
        "episodes": len(eps),
        "detected": len(first_raise),
        "alarms": total,
        "false_alarms": false_alarms,
        "device_days": round(days, 4),
        "recall_by_kind": {k: round(v["detected"] / v["episodes"], 4) for k, v in sorted(kinds.items())},
    }
