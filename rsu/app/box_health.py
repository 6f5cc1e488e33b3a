"""What the box's heartbeat reports: each source, each plugin, and the box itself (router, lanes, drops)."""

from __future__ import annotations

from typing import Any

from rsu.app.heartbeat import HeartbeatService, source_status
from rsu.app.box import Box
from rsu.app.storage_health import storage_component
from rsu.publish.payloads import publish_product

__all__ = ["heartbeat_service", "box_components"]


def box_components(box: Box, plugins: Any) -> list[tuple[str, str, str, str, dict[str, Any]]]:
    """``(topic source, component, status, message, details)`` of every component, now."""
    out: list[tuple[str, str, str, str, dict[str, Any]]] = []
    for service in box.source_services:  # one snapshot: sources may be added or removed meanwhile
        source = service.source
        try:
            stats = dict(source.stats())
        except Exception as exc:  # noqa: BLE001 - a source's stats must not stop the heartbeat
            stats = {"error": f"{type(exc).__name__}: {exc}"}
        status, message = source_status(service.state, stats)
        details = {**stats, "service": service.stats(),
                   "stale": {k: v for k, v in box.stats.stale.items() if k.startswith(f"{source.id}.")},
                   "late": {k: v for k, v in box.stats.late_inputs.items() if k.startswith(f"{source.id}.")}}
        out.append((source.id, f"source:{source.id}", status, message, details))
    for name, p in (plugins.stats() if plugins is not None else {}).items():
        state = p.get("status", "running")
        status = "ok" if state == "running" else ("degraded" if state == "stalled" else "down")
        out.append((f"plugin.{name}", f"plugin:{name}", status, str(state), dict(p)))
    router = box.router_alive()
    summary = box.stats.summary()
    details = {"lanes": box.lanes.stats(), "drops": summary["drops"], "stale": summary["stale"],
               "late": summary.get("late", {}), "late_events": summary["late_events"],
               "latency": summary["latency_event_to_publish"].get("all")}
    out.append(("rsu", "box", "ok" if router else "down", "running" if router else "router not running", details))
    storage = storage_component(box)  # checkpoints and journals: degraded while the disk refuses writes
    if storage is not None:
        out.append(storage)
    return out


def heartbeat_service(box: Box, publisher: Any, plugins: Any, interval_s: float) -> HeartbeatService:
    """The heartbeat of ``box``: :class:`~rsu_sdk.HealthEvent` values published through ``publisher`` with the
    payload code of every product (``health``, ``rsu.health/1``, event time: the box's wall clock)."""
    return HeartbeatService(lambda event: publish_product(publisher, event), lambda: box_components(box, plugins),
                            interval_s, wall_ns=box.clock.wall_ns)
