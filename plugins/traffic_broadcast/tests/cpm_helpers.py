"""Test helpers: the official ETSI CPM modules (from ``../shared/asn1`` beside the checkout), object factories,
and a field-by-field comparison that names every differing path."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

from rsu_sdk import FusedObject
from rsu_sdk.testing import DEFAULT_SITE, T0_NS, make_fused_object, make_object_list

REPO = Path(__file__).resolve().parents[3]
OFFICIAL_DIR = REPO.parent / "shared" / "asn1" / "etsi-cpm-ts103324v211"
CDD_FILE = "TS102894-2v241-CDD.asn"
# asn1tools issue 193: this union constraint is mis-parsed; its PER-visible range is 0..14 (X.691).
BROKEN_CONSTRAINT = "TrafficParticipantType (unknown|passengerCar..tram|agricultural)"
FIXED_CONSTRAINT = "TrafficParticipantType (0..14)"

OFFICIAL_CONTAINERS = {2: "OriginatingRsuContainer", 3: "SensorInformationContainer", 5: "PerceivedObjectContainer"}

CLASSES = ("car", "person", "bicycle", "truck", "bus", "motorcycle", "van", "dog", "ufo", "tram")

__all__ = ["DEFAULT_SITE", "T0_NS", "compile_official", "diff", "make_object_list", "objects", "official_decode",
           "official_encode"]


def compile_official(workdir: Path) -> Any:
    """Copy the official modules to ``workdir``, apply the documented one-line fix, compile for UPER."""
    import asn1tools

    files = sorted(OFFICIAL_DIR.glob("*.asn"))
    for f in files:
        shutil.copy(f, workdir / f.name)
    cdd = workdir / CDD_FILE
    text = cdd.read_text(encoding="latin-1")
    assert text.count(BROKEN_CONSTRAINT) == 1, "the documented asn1tools fix no longer applies"
    cdd.write_text(text.replace(BROKEN_CONSTRAINT, FIXED_CONSTRAINT), encoding="latin-1")
    return asn1tools.compile_files([str(workdir / f.name) for f in files], "uper", encoding="latin-1")


def official_decode(spec: Any, body: bytes) -> dict[str, Any]:
    """Decode with the official modules; open-type containers decoded by their containerId."""
    cpm = spec.decode("CollectivePerceptionMessage", body)
    for c in cpm["payload"]["cpmContainers"]:
        name = OFFICIAL_CONTAINERS.get(c["containerId"])
        if name:
            c["containerData"] = spec.decode(name, c["containerData"])
    return cpm


def official_encode(spec: Any, value: dict[str, Any]) -> bytes:
    """Encode with the official modules (containers encoded first: asn1tools leaves open types as bytes)."""
    wrapped = [{"containerId": c["containerId"],
                "containerData": spec.encode(OFFICIAL_CONTAINERS[c["containerId"]], c["containerData"],
                                             check_constraints=True)}
               for c in value["payload"]["cpmContainers"]]
    outer = {"header": value["header"], "payload": {**value["payload"], "cpmContainers": wrapped}}
    return spec.encode("CollectivePerceptionMessage", outer, check_constraints=True)


def diff(a: Any, b: Any, path: str = "") -> list[str]:
    """Every path where ``a`` and ``b`` differ (keys, lengths, CHOICE names, leaf values)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{path}.{k}: only on one side" for k in sorted(set(a) ^ set(b))]
        for k in sorted(set(a) & set(b)):
            out += diff(a[k], b[k], f"{path}.{k}")
        return out
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and type(a) is type(b):
        if len(a) != len(b):
            return [f"{path}: length {len(a)} != {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in diff(x, y, f"{path}[{i}]")]
    return [] if a == b and type(a) is type(b) else [f"{path}: {a!r} != {b!r}"]


def objects(n: int, *, t_offset: int = 0) -> list[FusedObject]:
    """``n`` varied objects around the site origin: every class, some without size, several sensors."""
    out = []
    for i in range(n):
        angle = 2 * math.pi * i / max(n, 1)
        speed = 0.5 * (i % 12)
        fields: dict[str, Any] = {
            "position_enu": (60.0 * math.cos(angle) + 0.37 * i, 40.0 * math.sin(angle) - 0.11 * i, 0.0),
            "velocity_enu": (speed * math.cos(angle + 1.0), speed * math.sin(angle + 1.0)),
            "class_name": CLASSES[i % len(CLASSES)],
            "confidence": 0.3 + 0.07 * (i % 10),
            "age_s": 0.1 * i,
            "position_std_m": None if i % 5 == 0 else 0.05 * (i % 7 + 1),
            "sources": (("cam-1",), ("radar-1",), ("cam-1", "radar-1"), ())[i % 4],
            "size": None if i % 6 == 5 else (1.0 + 0.4 * (i % 9), 0.6 + 0.1 * (i % 5), 1.2 + 0.05 * i),
        }
        if i % 7 == 3:
            fields["position_enu"] = (fields["position_enu"][0], fields["position_enu"][1], 1.25)
        out.append(make_fused_object(1000 + i, **fields))
    return out
