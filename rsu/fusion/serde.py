"""Plain-JSON forms of the values fusion reads and writes (recordings, snapshots, ``rsu.objects/1`` records)."""

from __future__ import annotations

from typing import Any

from rsu_sdk import Detections, ObjectList, RadarObject, RadarScan

__all__ = ["detections_to_dict", "detections_from_dict", "scan_to_dict", "scan_from_dict", "objects_record",
           "OBJECTS_SCHEMA"]

OBJECTS_SCHEMA = "rsu.objects/1"


def detections_to_dict(d: Detections) -> dict[str, Any]:
    return {
        "kind": "detections", "source": d.source, "t_event": int(d.t_event_ns), "frame_id": d.frame_id,
        "image_size": list(d.image_size), "class_names": list(d.class_names),
        "xyxy": [[round(float(v), 2) for v in row] for row in d.xyxy],
        "confidence": [round(float(v), 4) for v in d.confidence], "class_id": [int(v) for v in d.class_id],
    }


def detections_from_dict(doc: dict[str, Any]) -> Detections:
    return Detections(source=doc["source"], t_event_ns=int(doc["t_event"]), frame_id=int(doc["frame_id"]),
                      xyxy=doc["xyxy"] or [], confidence=doc["confidence"], class_id=doc["class_id"],
                      class_names=tuple(doc["class_names"]), image_size=tuple(doc["image_size"]))


_OBJ_FIELDS = ("object_id", "dist_long", "dist_lat", "vrel_long", "vrel_lat", "rcs", "dyn_prop", "class_name",
               "prob_exist", "length", "width", "orientation_deg")


def scan_to_dict(s: RadarScan) -> dict[str, Any]:
    return {"kind": "radar", "source": s.source, "t_event": int(s.t_event_ns), "cycle": s.cycle,
            "objects": [{f: getattr(o, f) for f in _OBJ_FIELDS} for o in s.objects]}


def scan_from_dict(doc: dict[str, Any]) -> RadarScan:
    return RadarScan(source=doc["source"], t_event_ns=int(doc["t_event"]), cycle=int(doc["cycle"]),
                     objects=tuple(RadarObject(**o) for o in doc["objects"]))


def objects_record(ol: ObjectList, site: str = "") -> dict[str, Any]:
    """An ``rsu.objects/1`` record (the published payload without ``seq``/``t_publish``)."""
    return {
        "schema": OBJECTS_SCHEMA, "site": site, "source": ol.source, "t_event": int(ol.t_event_ns),
        "objects": [{
            "track_id": o.track_id, "position_enu": [round(v, 3) for v in o.position_enu],
            "velocity_enu": [round(v, 3) for v in o.velocity_enu], "heading_deg": round(o.heading_deg, 2),
            "lat": round(o.lat, 8), "lon": round(o.lon, 8), "class_name": o.class_name,
            "confidence": round(o.confidence, 3), "sources": list(o.sources),
            "size": None if o.size is None else [round(v, 2) for v in o.size], "age_s": round(o.age_s, 3),
            "state": o.state, "position_std_m": None if o.position_std_m is None else round(o.position_std_m, 3),
        } for o in ol.objects],
    }
