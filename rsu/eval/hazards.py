"""``rsu eval intersection --hazards``: run the hazard_warning plugin on the fused tracks of a simulated
recording and score its DENM events against the scripted hazards' ground truth (``hazards.jsonl``).

An event (one actionId: its ``new`` DENM, then its cancellation) matches a scripted hazard of the same
cause when it is raised between 5 s before the hazard's start and 3 s after its end, and its position lies
within 6 m of the hazard's path. Per trigger: ``expected`` (scripted hazards), ``raised`` (those matched),
``raise_delay_s_max`` (latest first raise after the start), ``terminate_delay_s_max`` (latest cancellation
after the end; events never cancelled count in ``unterminated``), ``false_events`` (events matching no
hazard) and ``duplicates`` (further events on a hazard already matched).
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import math
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rsu_sdk import ObjectList, PluginContext, SiteInfo

__all__ = ["CAUSES", "HazardEvent", "collect_events", "run_hazards", "run_scenario", "score"]

CAUSES = ("stationaryVehicle", "humanPresenceOnTheRoad", "wrongWayDriving")
EARLY_S, LATE_S, NEAR_M = 5.0, 3.0, 6.0
NS = 1_000_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class HazardEvent:
    """One DENM event as the bus showed it."""

    cause: str
    action_seq: int
    raised_ns: int
    cancelled_ns: int | None
    position_enu: tuple[float, float]
    track_id: int


class _Collector:
    """A Publisher that keeps the headers of ``v2x/denm`` messages (and counts the rest)."""

    def __init__(self) -> None:
        self.denm: list[tuple[int, dict[str, Any]]] = []
        self.other = 0
        self._lock = threading.Lock()

    def publish(self, product: str, data: Mapping[str, Any], **_: Any) -> None:
        self.other += 1

    def publish_binary(self, product: str, header: Mapping[str, Any], body: bytes, *,
                       t_event_ns: int | None = None, **_: Any) -> None:
        if product != "v2x/denm":
            self.other += 1
            return
        with self._lock:
            self.denm.append((int(t_event_ns or 0), dict(header)))


def _plugin_class() -> type:
    eps = [e for e in importlib.metadata.entry_points(group="rsu.plugins") if e.name == "hazard_warning"]
    if not eps:
        raise RuntimeError("the hazard_warning plugin is not installed (pip install plugins/hazard_warning)")
    return eps[0].load()


def run_hazards(lists: Iterable[ObjectList], site: SiteInfo, config: Mapping[str, Any]) -> tuple[
        list[tuple[int, dict[str, Any]]], dict[str, Any]]:
    """Feed fused-object cycles to a hazard_warning plugin; return its DENM headers ``(t_ns, header)``
    and its counters."""
    plugin = _plugin_class()()
    collector = _Collector()
    plugin.rsu_on_start(context=PluginContext(name="hazard_warning", site=site, config=config,
                                              publisher=collector, emit=lambda product: None,
                                              logger=logging.getLogger("rsu.eval.hazards")))
    try:
        for ol in lists:
            plugin.rsu_on_objects(objects=ol)
    finally:
        plugin.rsu_on_stop()
    return collector.denm, plugin.stats()


def collect_events(messages: list[tuple[int, dict[str, Any]]], stop_ns: int | None = None) -> list[HazardEvent]:
    """One :class:`HazardEvent` per actionId; a cancellation at ``stop_ns`` or later (the plugin stopping)
    does not count as a termination."""
    first: dict[int, tuple[int, dict[str, Any]]] = {}
    cancelled: dict[int, int] = {}
    for t, h in messages:
        seq = int(h["action_id"]["sequence_number"])
        if h["transmission"] == "new":
            first.setdefault(seq, (t, h))
        elif h["transmission"] == "cancel" and (stop_ns is None or t < stop_ns):
            cancelled.setdefault(seq, t)
    return [HazardEvent(cause=h["cause"], action_seq=seq, raised_ns=t, cancelled_ns=cancelled.get(seq),
                        position_enu=(float(h["event_position_enu"][0]), float(h["event_position_enu"][1])),
                        track_id=int(h["track_id"])) for seq, (t, h) in sorted(first.items())]


def _distance(p: tuple[float, float], a: list[float], b: list[float]) -> float:
    ax, ay, bx, by = a[0], a[1], b[0], b[1]
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    u = 0.0 if length2 == 0 else max(0.0, min(1.0, ((p[0] - ax) * dx + (p[1] - ay) * dy) / length2))
    return math.hypot(p[0] - ax - u * dx, p[1] - ay - u * dy)


def score(events: list[HazardEvent], truth: list[dict[str, Any]]) -> dict[str, Any]:
    """Per cause: expected, raised, raise_delay_s_max, terminate_delay_s_max, false_events, ..."""
    truth = [h for h in truth if h.get("complete") and h.get("start_ns") is not None]
    matched: dict[int, list[HazardEvent]] = {i: [] for i in range(len(truth))}
    false: list[HazardEvent] = []
    for ev in events:
        hit = None
        for i, h in enumerate(truth):
            if (h["cause"] == ev.cause and h["start_ns"] - EARLY_S * NS <= ev.raised_ns <= h["end_ns"] + LATE_S * NS
                    and _distance(ev.position_enu, h["start_enu"], h["end_enu"]) <= NEAR_M):
                hit = i
                break
        (matched[hit] if hit is not None else false).append(ev)
    out: dict[str, Any] = {}
    for cause in CAUSES:
        idx = [i for i, h in enumerate(truth) if h["cause"] == cause]
        raise_delays, term_delays, unterminated, duplicates = [], [], 0, 0
        for i in idx:
            evs = matched[i]
            if not evs:
                continue
            raise_delays.append((evs[0].raised_ns - truth[i]["start_ns"]) / NS)
            duplicates += len(evs) - 1
            if evs[-1].cancelled_ns is None:
                unterminated += 1
            else:
                term_delays.append((evs[-1].cancelled_ns - truth[i]["end_ns"]) / NS)
        out[cause] = {
            "expected": len(idx), "raised": sum(1 for i in idx if matched[i]),
            "raise_delay_s_max": round(max(raise_delays), 3) if raise_delays else None,
            "terminate_delay_s_max": round(max(term_delays), 3) if term_delays else None,
            "false_events": sum(1 for ev in false if ev.cause == cause),
            "unterminated": unterminated, "duplicates": duplicates,
            "events": sum(1 for ev in events if ev.cause == cause),
        }
    return out


def _load_truth(recording: Path) -> list[dict[str, Any]]:
    path = recording / "hazards.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def evaluate_recording(recording: Path | str, plugin_config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Run the fused engine and the plugin on ``recording``; score against its ``hazards.jsonl`` (none: every
    event is false). ``plugin_config`` defaults to the simulated intersection's zones."""
    import yaml

    from rsu.eval.intersection import run_engine
    from rsu.sim.intersection.hazards import hazard_zones

    recording = Path(recording)
    scn = yaml.safe_load((recording / "scenario.yaml").read_text())
    site = SiteInfo(name=scn["site"]["name"], lat=scn["site"]["lat"], lon=scn["site"]["lon"],
                    alt=scn["site"].get("alt", 0.0))
    lists, _ = run_engine(recording, "fused")
    config = dict(plugin_config) if plugin_config is not None else {"zones": hazard_zones()}
    stop_ns = lists[-1].t_event_ns if lists else None
    messages, stats = run_hazards(lists, site, config)
    result = score(collect_events(messages, stop_ns), _load_truth(recording))
    result["stats"] = {**stats, "denm_messages": len(messages)}
    return result


def run_scenario(seconds: float = 60.0, seed: int = 0, out: Path | str | None = None, *,
                 hazards: tuple[str, ...] = ("stopped-vehicle", "jaywalker", "wrong-way")) -> dict[str, Any]:
    """``rsu eval intersection --hazards``: simulate with the scripted ``hazards`` (may be empty), score
    tracking in every mode as ``rsu eval intersection`` does, and add ``hazards``."""
    from rsu.eval.intersection import MODES, run_recording
    from rsu.sim.intersection import simulate

    def one(folder: Path, write: bool) -> dict[str, Any]:
        summary = simulate(folder, seconds, seed, hazards=hazards)
        result = run_recording(folder, MODES, write=write)
        result["hazards"] = evaluate_recording(folder)
        result["scenario"] = {k: summary[k] for k in ("scenario", "seconds", "seed", "frames", "radar_cycles")}
        result["scenario"]["scripted_hazards"] = list(hazards)
        return result

    if out is not None:
        return one(Path(out), True)
    with tempfile.TemporaryDirectory(prefix="rsu-eval-") as tmp:
        return one(Path(tmp), False)
