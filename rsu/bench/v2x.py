"""``rsu bench v2x``: encode and decode time and size of Collective Perception Messages.

The host never imports a plugin's modules: the CPM codec is reached through the ``cpm-uper``
:class:`~rsu_sdk.records.EncoderSpec` that the installed plugins register (``encode_objects`` builds and
encodes one CPM from an :class:`~rsu_sdk.types.ObjectList`; ``decode`` turns a body into JSON, as
``rsu tap`` does). Baseline, same run: ``json.dumps`` of the same objects in the ZeroMQ ``objects``
payload form. Everything runs on one thread (one core).
"""

from __future__ import annotations

import json
import math
from typing import Any

from rsu_sdk import ObjectList, SiteInfo
from rsu_sdk.records import EncoderSpec
from rsu_sdk.types import FusedObject

from rsu.bench.timing import time_calls

__all__ = ["ENCODING", "SIZES", "find_encoder", "make_objects", "run"]

ENCODING = "cpm-uper"
SIZES = (1, 10, 30, 100)
SITE = SiteInfo(name="bench", lat=48.137, lon=11.575, alt=519.0)
T0_NS = 1_700_000_000_000_000_000
CLASSES = ("car", "pedestrian", "bicycle", "truck", "unknown", "motorcycle")  # rsu_sdk.OBJECT_CLASSES
PERIOD_10HZ_MS = 100.0


def find_encoder(name: str = ENCODING) -> EncoderSpec:
    """The installed plugins' encoder ``name`` (every installed plugin is loaded, none is started)."""
    from rsu.plugins.manager import create_plugin_manager
    from rsu.plugins.registry import collect_encoders

    loaded = create_plugin_manager(enabled=None)
    spec = collect_encoders(loaded.pm).get(name)
    if spec is None or spec.encode_objects is None:
        raise RuntimeError(f"no installed plugin registers the {name!r} encoder with encode_objects "
                           "(install plugins/traffic_broadcast)")
    return spec


def make_objects(n: int) -> ObjectList:
    """``n`` fused objects spread over a 200 m intersection, all fields set (deterministic)."""
    objs = []
    for i in range(n):
        a = 2.0 * math.pi * i / n
        ve, vn = 8.0 * math.cos(a + 0.5), 8.0 * math.sin(a + 0.5)
        east, north = 90.0 * math.cos(a) + 0.3 * i, 70.0 * math.sin(a) - 0.2 * i
        objs.append(FusedObject(
            track_id=i + 1, position_enu=(east, north, 0.0), velocity_enu=(ve, vn),
            heading_deg=math.degrees(math.atan2(ve, vn)) % 360.0, class_name=CLASSES[i % len(CLASSES)],
            confidence=0.5 + 0.05 * (i % 10), lat=SITE.lat + north / 111_320.0,
            lon=SITE.lon + east / (111_320.0 * math.cos(math.radians(SITE.lat))),
            sources=("cam-1", "radar-1") if i % 2 else ("radar-1",), size=(4.5, 1.8, 1.5), age_s=0.1 * i,
            position_std_m=0.4))
    return ObjectList(source="fusion", t_event_ns=T0_NS, objects=tuple(objs))


def _json_payload(objects: ObjectList) -> bytes:
    """The baseline: the same objects as the ZeroMQ ``objects`` payload carries them, as JSON bytes."""
    return json.dumps({"objects": [{
        "track_id": o.track_id, "position_enu": o.position_enu, "velocity_enu": o.velocity_enu,
        "heading_deg": o.heading_deg, "class_name": o.class_name, "confidence": o.confidence, "lat": o.lat,
        "lon": o.lon, "sources": o.sources, "size": o.size, "age_s": o.age_s, "state": o.state,
        "position_std_m": o.position_std_m} for o in objects.objects]}, separators=(",", ":")).encode()


def _median(samples: Any) -> float:
    return round(float(sorted(samples)[len(samples) // 2]), 4)


def run(quick: bool = False) -> dict[str, Any]:
    """Time ``encode_objects`` and ``decode`` of the registered CPM encoder for 1, 10, 30, 100 objects."""
    spec = find_encoder()
    encode_objects, decode = spec.encode_objects, spec.decode
    assert encode_objects is not None
    repeat = 15 if quick else 150
    per_size: dict[str, dict[str, Any]] = {}
    for n in SIZES:
        objects = make_objects(n)
        body = encode_objects(objects, SITE)
        decoded = decode(body)
        count = next((c["containerData"]["numberOfPerceivedObjects"] for c in decoded["payload"]["cpmContainers"]
                      if c["containerId"] == 5), None)
        if count != n:
            raise RuntimeError(f"{ENCODING}: a CPM of {n} objects decoded to {count} objects")
        encode_ms = _median(time_calls(lambda: encode_objects(objects, SITE), repeat))
        decode_ms = _median(time_calls(lambda: decode(body), repeat))
        json_ms = _median(time_calls(lambda: _json_payload(objects), repeat))
        json_bytes = len(_json_payload(objects))
        per_size[str(n)] = {
            "encode_ms": encode_ms, "decode_ms": decode_ms, "bytes": len(body),
            "json_encode_ms": json_ms, "json_bytes": json_bytes,
            "encode_over_json": round(encode_ms / json_ms, 2) if json_ms else None,
            "bytes_over_json": round(len(body) / json_bytes, 3),
        }
    enc30 = per_size["30"]["encode_ms"]
    return {
        "objects": per_size,
        "headroom_10hz_30": round(PERIOD_10HZ_MS / enc30, 1) if enc30 else None,
        "cpu_share_10hz_30": round(enc30 / PERIOD_10HZ_MS, 4),
        "baseline": "json.dumps of the same objects (ZeroMQ objects payload form), same run",
        "encoder": spec.description or ENCODING,
        "encode": "build + UPER encode of one CPM from an ObjectList (EncoderSpec.encode_objects)",
        "decode": "UPER decode + JSON form, as rsu tap prints it (EncoderSpec.decode)",
        "repeat": repeat,
        "threads": 1,
    }
