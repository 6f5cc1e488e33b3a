"""Liveness (``/healthz``) and readiness (``/readyz``) of a running box.

- live: the process answers and the router thread (sources -> stages -> outputs) is alive.
- ready: live, every source opened (a camera that streamed at least once, a replay that started) and none
  crashed and waiting to be restarted, every
  enabled plugin started and not disabled, the publisher bound, and the box not stopping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Check", "liveness", "readiness", "source_opened"]


@dataclass(frozen=True, slots=True)
class Check:
    ok: bool
    checks: dict[str, Any] = field(default_factory=dict)

    def json(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": self.checks}


def source_opened(stats: dict[str, Any]) -> bool:
    """Whether a source's stats show it opened its input (sources report different keys)."""
    if "opens" in stats:  # cameras, UDP radars: opened at least once
        return int(stats["opens"] or 0) > 0
    if "up" in stats:
        return bool(stats["up"])
    if "state" in stats:
        return stats["state"] not in ("idle", "opening", "backoff", "down")
    return not stats.get("error")


def liveness(box: Any) -> Check:
    router = box.router_alive()
    return Check(ok=router, checks={"router": "alive" if router else "not running"})


def readiness(box: Any) -> Check:
    """See the module doc; ``checks`` names what is not ready."""
    checks: dict[str, Any] = {}
    live = box.router_alive()
    checks["router"] = "alive" if live else "not running"
    stopping = box.stop_event.is_set()
    checks["stopping"] = stopping
    waiting = [s.id for s in box.sources if not source_opened(_stats(s))]
    down = [svc.source.id for svc in box.source_services if svc.state == "restarting"]
    checks["sources"] = "opened" if not waiting and not down else \
        {**({"not opened": waiting} if waiting else {}), **({"crashed, restarting": down} if down else {})}
    sink = box.sink
    plugins = sink.plugins.stats() if hasattr(sink, "plugins") else {}
    not_running = {n: p.get("status") for n, p in plugins.items() if p.get("status") != "running"}
    checks["plugins"] = "started" if not not_running else not_running
    endpoint = getattr(getattr(sink, "publisher", None), "endpoint", None)
    checks["publisher"] = endpoint or "not bound"
    ok = live and not stopping and not waiting and not down and not not_running and bool(endpoint)
    return Check(ok=ok, checks=checks)


def _stats(source: Any) -> dict[str, Any]:
    try:
        return dict(source.stats())
    except Exception as exc:  # noqa: BLE001 - a source's stats must not break the probe
        return {"error": f"{type(exc).__name__}: {exc}"}
