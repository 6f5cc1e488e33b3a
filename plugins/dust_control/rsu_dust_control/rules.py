"""The spray rule: pure, deterministic and driven by event time only (no wall clock, no I/O).

A station *asks* for spray while its PM2.5 is high (on above ``pm2_5_on``, released below ``pm2_5_off``) and
it does not rain there (humidity at or above ``rain_humidity_pct``, released ``rain_hysteresis_pct`` lower).
A sprayer *wants* to run while one of the stations it is among the nearest of asks, outside quiet hours and
while the day's water budget lasts. It switches only after ``min_on_s`` on / ``min_off_s`` off, except
that an exhausted budget and a manual ``off`` stop it at once. Time only moves with readings, so a sprayer
due to stop is stopped by the next reading after its minimum on time.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from rsu_sdk import SensorReading

from rsu_dust_control.settings import Settings

__all__ = ["Decision", "EngineState", "RuleEngine", "nearest_sprayers"]

NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Decision:
    """Switch ``sprayer`` to ``action`` at event time ``t_event_ns`` because of ``reason``."""

    sprayer: str
    action: Literal["on", "off"]
    t_event_ns: int
    reason: str


@dataclass(slots=True)
class StationState:
    exceeded: bool = False
    raining: bool = False
    pm2_5: float | None = None
    humidity_pct: float | None = None


@dataclass(slots=True)
class SprayerState:
    on: bool = False
    since_ns: int | None = None  # event time of the last switch; None = never switched


@dataclass(slots=True)
class EngineState:
    """Everything the engine remembers; JSON round-trips through :meth:`as_dict` / :meth:`from_dict`."""

    clock_ns: int | None = None
    day: str | None = None
    used_litres: float = 0.0
    stations: dict[str, StationState] = field(default_factory=dict)
    sprayers: dict[str, SprayerState] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> EngineState:
        return cls(clock_ns=raw.get("clock_ns"), day=raw.get("day"), used_litres=float(raw.get("used_litres", 0)),
                   stations={k: StationState(**v) for k, v in raw.get("stations", {}).items()},
                   sprayers={k: SprayerState(**v) for k, v in raw.get("sprayers", {}).items()})


def nearest_sprayers(settings: Settings) -> dict[str, tuple[str, ...]]:
    """Station id -> ids of its ``sprayers_per_station`` nearest sprayers (within ``max_distance_m``)."""
    out: dict[str, tuple[str, ...]] = {}
    for st in settings.stations:
        ranked = sorted(settings.sprayers, key=lambda s: (math.dist(st.position, s.position), s.id))
        if settings.max_distance_m is not None:
            ranked = [s for s in ranked if math.dist(st.position, s.position) <= settings.max_distance_m]
        out[st.id] = tuple(s.id for s in ranked[: settings.sprayers_per_station])
    return out


class RuleEngine:
    """Turns readings into sprayer decisions. Not thread-safe: call it from one thread.

    :param settings: the parsed plugin settings.
    :param state: a restored state (e.g. after a restart); a fresh one when None.
    """

    def __init__(self, settings: Settings, state: EngineState | None = None) -> None:
        self.settings = settings
        self.state = state or EngineState()
        self.coverage = nearest_sprayers(settings)
        self.ignored = 0
        known = {sp.id for sp in settings.sprayers}
        self.state.sprayers = {k: v for k, v in self.state.sprayers.items() if k in known}
        for st in settings.stations:
            self.state.stations.setdefault(st.id, StationState())
        for sp in settings.sprayers:
            self.state.sprayers.setdefault(sp.id, SprayerState())

    # -- inputs -----------------------------------------------------------------------------------

    def on_reading(self, reading: SensorReading, *, hold: bool = False) -> list[Decision]:
        """Account for one reading; return the switches it causes (in sprayer config order).

        :param hold: manual hold (e.g. the override coil is set): track state, issue nothing.
        """
        if reading.device not in self.state.stations:
            self.ignored += 1
            return []
        t = self._advance(reading.t_event_ns)
        self._update_station(reading.device, reading.values)
        if hold or self.settings.override.mode == "hold":
            return []
        return self._evaluate(t)

    # -- internals --------------------------------------------------------------------------------

    def _local(self, t_ns: int) -> datetime:
        return datetime.fromtimestamp(t_ns / NS, tz=timezone.utc).astimezone(self.settings.timezone)

    def _advance(self, t_ns: int) -> int:
        """Move the clock to ``t_ns`` (never backwards), counting the water the running sprayers used."""
        st = self.state
        t = t_ns if st.clock_ns is None else max(t_ns, st.clock_ns)
        if st.clock_ns is not None:
            dt_min = (t - st.clock_ns) / NS / 60.0
            st.used_litres += sum(self.settings.sprayer(sid).flow_lpm * dt_min
                                  for sid, sp in st.sprayers.items() if sp.on)
        day = self._local(t).date().isoformat()
        if day != st.day:
            st.day, st.used_litres = day, 0.0
        st.clock_ns = t
        return t

    def _update_station(self, station: str, values: Any) -> None:
        s, cfg = self.state.stations[station], self.settings
        pm = values.get("pm2_5")
        if pm is not None and math.isfinite(pm):
            s.pm2_5 = pm
            if pm > cfg.pm2_5_on:
                s.exceeded = True
            elif pm < cfg.pm2_5_off:
                s.exceeded = False
        rh = values.get("humidity_pct")
        if rh is not None and math.isfinite(rh):
            s.humidity_pct = rh
            if rh >= cfg.rain_humidity_pct:
                s.raining = True
            elif rh < cfg.rain_humidity_pct - cfg.rain_hysteresis_pct:
                s.raining = False

    def _quiet(self, t_ns: int) -> bool:
        now = self._local(t_ns).time()
        return any(w.contains(now) for w in self.settings.quiet_hours)

    def _remaining(self) -> float:
        limit = self.settings.daily_litres
        return math.inf if limit is None else limit - self.state.used_litres

    def _demand(self, sprayer: str) -> tuple[bool, str]:
        """Whether a covering station asks for spray, and why (or why not)."""
        why_not = "pm2_5 back below off threshold"
        for station, covered in self.coverage.items():
            if sprayer not in covered:
                continue
            s = self.state.stations[station]
            if s.exceeded and not s.raining:
                return True, f"pm2_5 {s.pm2_5:.1f} ug/m3 at {station} (on above {self.settings.pm2_5_on:g})"
            if s.exceeded and s.raining:
                why_not = f"rain at {station} (humidity {s.humidity_pct:.0f} %)"
        return False, why_not

    def _evaluate(self, t: int) -> list[Decision]:
        cfg, out = self.settings, []
        quiet, remaining = self._quiet(t), self._remaining()
        for sp in cfg.sprayers:
            state = self.state.sprayers[sp.id]
            forced = cfg.override.sprayers.get(sp.id, "auto")
            forced = cfg.override.mode if forced == "auto" else forced
            if forced in ("on", "off"):
                if state.on != (forced == "on"):
                    out.append(self._switch(sp.id, forced == "on", t, f"manual override {forced}"))
                continue
            demand, reason = self._demand(sp.id)
            held = None if state.since_ns is None else (t - state.since_ns) / NS
            if state.on:
                if remaining <= 0:
                    out.append(self._switch(sp.id, False, t, "daily water budget exhausted"))
                elif (not demand or quiet) and (held is None or held >= cfg.min_on_s):
                    out.append(self._switch(sp.id, False, t, "quiet hours" if demand else reason))
            elif demand and not quiet and (held is None or held >= cfg.min_off_s):
                if remaining >= sp.flow_lpm * cfg.min_on_s / 60.0 and remaining > 0:
                    out.append(self._switch(sp.id, True, t, reason))
        return out

    def _switch(self, sprayer: str, on: bool, t: int, reason: str) -> Decision:
        state = self.state.sprayers[sprayer]
        state.on, state.since_ns = on, t
        return Decision(sprayer=sprayer, action="on" if on else "off", t_event_ns=t, reason=reason)
