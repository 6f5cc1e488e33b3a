"""``/api/state``: the dashboard's JSON view of the box (objects, radar, cameras, plugins, alarms, metrics)."""

from __future__ import annotations

import time
from typing import Any

from rsu_sdk import ActuationCommand, ActuationOutcome, Alarm

from rsu.metrics.health import liveness, readiness
from rsu.web.frames import FrameRenderer
from rsu.web.live import LiveState
from rsu.web.views import SiteGeometry

__all__ = ["StateView"]


def _r(x: float, nd: int = 2) -> float:
    return round(float(x), nd)


def _alarm(a: Alarm) -> dict[str, Any]:
    return {"t_event": a.t_event_ns, "source": a.source, "device": a.device, "kind": a.kind, "active": a.active,
            "severity": a.severity, "score": None if a.score is None else _r(a.score, 3), "message": a.message}


def _actuation(a: ActuationOutcome | ActuationCommand) -> dict[str, Any]:
    if isinstance(a, ActuationOutcome):
        c = a.command
        return {"t_event": a.t_event_ns, "actuator": c.actuator, "action": c.action, "reason": c.reason,
                "result": "ok" if a.ok else "failed", "attempts": a.attempts, "error": a.error}
    return {"t_event": a.t_event_ns, "actuator": a.actuator, "action": a.action, "reason": a.reason,
            "result": "requested", "attempts": 0, "error": None}


class StateView:
    """Builds the ``/api/state`` document from the live state, the box and the metrics sources."""

    def __init__(self, *, box: Any, config: Any, live: LiveState, frames: FrameRenderer, geometry: SiteGeometry,
                 counters: Any, started: float) -> None:
        self.box = box
        self.config = config
        self.live = live
        self.frames = frames
        self.geometry = geometry
        self.counters = counters
        self.started = started
        import psutil

        self._proc = psutil.Process()
        self._proc.cpu_percent(None)

    def document(self) -> dict[str, Any]:
        cfg = self.config
        active, recent = self.live.alarms()
        return {
            "schema": "rsu.dashboard/1",
            "site": {"name": cfg.site.name, "lat": cfg.site.lat, "lon": cfg.site.lon},
            "now": time.time_ns(),
            "uptime_s": _r(time.time() - self.started, 1),
            "live": liveness(self.box).ok,
            "ready": readiness(self.box).json(),
            "privacy": {"blur": cfg.privacy.blur, "method": cfg.privacy.method},
            "poll_ms": cfg.web.poll_ms,
            "cameras": self._cameras(),
            "objects": self._objects(),
            "radar": self._radar(),
            "sensors": self.geometry.sensors_json(),
            "plugins": self._plugins(),
            "alarms": {"active": [_alarm(a) for a in active], "recent": [_alarm(a) for a in recent[:20]]},
            "actuations": [_actuation(a) for a in self.live.actuations()[:20]],
            "predictions": sorted(({"device": p.device, "model": p.model, "score": _r(p.score, 3),
                                    "label": p.label, "t_event": p.t_event_ns} for p in self.live.predictions()),
                                  key=lambda p: (p["device"], p["model"])),
            "readings": {dev: {k: _r(v, 2) for k, v in list(r.values.items())[:6]}
                         for dev, r in sorted(self.live.readings().items())[:12]},
            "metrics": self._metrics(),
        }

    def _cameras(self) -> list[dict[str, Any]]:
        counts = self.live.camera_counts()
        out = []
        for cid in self.frames.cameras():
            c = counts.get(cid) or {"frames": 0, "detection_lists": 0, "has_images": False, "detections": 0,
                                    "image_size": list(self.geometry.cameras[cid].image_size), "t_event": None}
            out.append({"id": cid, "frame_url": f"/api/frame/{cid}.jpg", "calibrated": cid in self.geometry.cameras,
                        **c})
        return out

    def _objects(self) -> list[dict[str, Any]]:
        out = []
        for src, ol in sorted(self.live.object_lists().items()):
            items = [{"track_id": o.track_id, "class": o.class_name, "e": _r(o.position_enu[0]),
                      "n": _r(o.position_enu[1]), "ve": _r(o.velocity_enu[0]), "vn": _r(o.velocity_enu[1]),
                      "speed_kmh": _r(o.speed_mps * 3.6, 1), "heading_deg": _r(o.heading_deg, 1),
                      "size": None if o.size is None else [_r(v) for v in o.size], "state": o.state,
                      "sources": list(o.sources), "confidence": _r(o.confidence, 3)} for o in ol.objects]
            out.append({"source": src, "t_event": ol.t_event_ns, "items": items})
        return out

    def _radar(self) -> list[dict[str, Any]]:
        out = []
        for src, scan in sorted(self.live.radar_scans().items()):
            en = self.geometry.radar_enu(scan)
            items = [{"id": o.object_id, "class": o.class_name, "long": _r(o.dist_long), "lat": _r(o.dist_lat),
                      **({"e": _r(en[i][0]), "n": _r(en[i][1])} if en is not None else {})}
                     for i, o in enumerate(scan.objects)]
            out.append({"source": src, "t_event": scan.t_event_ns, "cycle": scan.cycle, "items": items})
        return out

    def _plugins(self) -> list[dict[str, Any]]:
        plugins = getattr(self.box.sink, "plugins", None)
        stats = plugins.stats() if plugins is not None else {}
        return [{"name": n, "version": s.get("version"), "status": s.get("status"), "calls": s.get("calls"),
                 "errors": s.get("errors"), "drops": s.get("drops"), "queue_depth": s.get("queue_depth"),
                 "last_error": s.get("last_error")} for n, s in sorted(stats.items())]

    def _metrics(self) -> dict[str, Any]:
        s = self.box.stats.summary()
        c = self.counters.snapshot()
        lat = s["latency_event_to_publish"].get("all", {})
        det = None
        from rsu.metrics.timing import timed_stages

        for timed in timed_stages([w.stage for w in self.box.workers]):
            buckets, total, n = timed.histogram.snapshot()
            det = {"stage": timed.name, "calls": n, "mean_ms": _r(total / n * 1e3, 1) if n else None,
                   "p50_ms_le": timed.histogram.quantile_ms(0.5), "p99_ms_le": timed.histogram.quantile_ms(0.99)}
        out = {
            "frames": sum(c["frames"].values()), "detections": sum(c["detections"].values()),
            "radar_objects": sum(c["radar_objects"].values()), "tracks": sum(c["tracks"].values()),
            "tracks_started": sum(c["tracks_started"].values()), "readings": sum(c["readings"].values()),
            "predictions": sum(c["predictions"].values()),
            "drops": sum(s["drops"].values()), "queue_depths": self.box.queue_depths(),
            "latency_p50_ms": lat.get("p50_ms"), "latency_p99_ms": lat.get("p99_ms"), "inference": det,
            "web": self.frames.stats(),
            "cpu_percent": _r(self._proc.cpu_percent(None), 1),
            "rss_mb": _r(self._proc.memory_info().rss / 2**20, 1),
        }
        publisher = getattr(self.box.sink, "publisher", None)
        if publisher is not None:
            ps = publisher.stats()
            out["published"] = ps["sent"]
            out["publish_dropped"] = ps["dropped"]
        return out
