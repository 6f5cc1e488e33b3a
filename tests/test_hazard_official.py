"""DENMs of the hazard_warning plugin decode with the official ETSI ASN.1 (TS 103 831 v2.3.1 DENM compiled with
the TS 102 894-2 v2.4.1 CDD of the CPM folder) field by field, and the official encoder gives the same bits."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

import pytest
from rsu_sdk import FusedObject, ObjectList
from rsu_sdk.testing import T0_NS, make_fused_object, run_plugin

pytestmark = pytest.mark.skipif(importlib.util.find_spec("rsu_hazard_warning") is None,
                                reason="the hazard_warning plugin is not installed")

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "asn1"
DENM_DIR = SHARED / "etsi-denm-ts103831v231"
CDD = SHARED / "etsi-cpm-ts103324v211" / "TS102894-2v241-CDD.asn"
# asn1tools issue 193 (see the CPM folder's README): the union constraint's PER-visible range is 0..14
BROKEN, FIXED = "TrafficParticipantType (unknown|passengerCar..tram|agricultural)", "TrafficParticipantType (0..14)"
NS = 1_000_000_000
ZONES = [
    {"id": "east-out", "kind": "lane", "heading_deg": 90.0, "polygon": [[8, -3.5], [70, -3.5], [70, 0], [8, 0]]},
    {"id": "box", "kind": "carriageway", "polygon": [[-8, -8], [8, -8], [8, 8], [-8, 8]]},
]


@pytest.fixture(scope="module")
def official(tmp_path_factory: pytest.TempPathFactory) -> Any:
    if not (DENM_DIR / "DENM-PDU-Description.asn").is_file() or not CDD.is_file():
        pytest.skip(f"official ETSI DENM / CDD ASN.1 not found in {DENM_DIR} and {CDD.parent} "
                    "(the shared/asn1 folder beside the checkout)")
    import asn1tools

    work = tmp_path_factory.mktemp("etsi-denm")
    shutil.copy(DENM_DIR / "DENM-PDU-Description.asn", work)
    text = CDD.read_text(encoding="latin-1")
    assert text.count(BROKEN) == 1, "the documented asn1tools fix no longer applies"
    (work / CDD.name).write_text(text.replace(BROKEN, FIXED), encoding="latin-1")
    return asn1tools.compile_files([str(work / CDD.name), str(work / "DENM-PDU-Description.asn")], "uper",
                                   encoding="latin-1")


def _diff(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{path}.{k}: only on one side" for k in sorted(set(a) ^ set(b))]
        return out + [d for k in sorted(set(a) & set(b)) for d in _diff(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and type(a) is type(b):
        if len(a) != len(b):
            return [f"{path}: length {len(a)} != {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _diff(x, y, f"{path}[{i}]")]
    return [] if a == b and type(a) is type(b) else [f"{path}: {a!r} != {b!r}"]


def _obj(track_id: int, x: float, y: float, ve: float, cls: str, std: float | None) -> FusedObject:
    return make_fused_object(track_id, position_enu=(x, y, 0.0), velocity_enu=(ve, 0.0), class_name=cls,
                             lat=48.1374 + y / 111_000, lon=11.5755 + x / 74_000, position_std_m=std,
                             confidence=0.83)


def _denms() -> list[bytes]:
    """Every DENM of a run with the three causes: new, update, repetition and cancellation of each."""
    cycles = []
    for k in range(120):
        objs = [_obj(1, 30.0, -1.75, 0.0 if k < 60 else 9.0, "car", 0.3),
                _obj(2, 65.0 - 0.8 * k, -1.75, -8.0, "car", None),
                _obj(3, 0.5 if k < 80 else 12.0, 2.0, 0.0, "pedestrian", 0.5)]
        cycles.append(ObjectList(source="fusion", t_event_ns=T0_NS + k * NS // 10, objects=tuple(objs)))
    from rsu_hazard_warning.plugin import HazardWarning

    run = run_plugin(HazardWarning, cycles, config={"zones": ZONES, "station_id": 3_000_000_123})
    bodies = [m.body for m in run.messages("v2x/denm")]
    kinds = {(m.data["cause"], m.data["transmission"]) for m in run.messages("v2x/denm")}
    assert {"new", "update", "repeat", "cancel"} <= {k for _, k in kinds}
    assert {c for c, _ in kinds} == {"stationaryVehicle", "wrongWayDriving", "humanPresenceOnTheRoad"}
    return list(dict.fromkeys(bodies))


def test_our_denms_decode_with_the_official_modules_field_by_field(official: Any) -> None:
    from rsu_hazard_warning import codec

    bodies = _denms()
    assert len(bodies) >= 6
    for body in bodies:
        ours = codec.decode(body)
        theirs = official.decode("DENM", body)
        assert _diff(theirs, ours) == []
        assert theirs["header"] == {"protocolVersion": 2, "messageId": 1, "stationId": 3_000_000_123}
        assert official.encode("DENM", ours, check_constraints=True) == body   # and the same bits back
        mgmt = theirs["denm"]["management"]
        if "termination" in mgmt:                                             # the standard's WITH COMPONENTS
            assert set(theirs["denm"]) == {"management"}
        else:
            assert {"situation", "location"} <= set(theirs["denm"])
            assert theirs["denm"]["situation"]["perceivedEvent"] is True


def test_official_denms_with_fields_we_never_set_decode_with_our_codec(official: Any) -> None:
    from rsu_hazard_warning import codec

    value = codec.decode(_denms()[0])
    value["denm"]["situation"]["linkedCause"] = {"ccAndScc": ("collisionRisk97", 1)}
    value["denm"]["situation"]["eventZone"] = [{"eventPosition": {"deltaLatitude": 10, "deltaLongitude": -20,
                                                                  "deltaAltitude": 0},
                                                "eventDeltaTime": 100, "informationQuality": 3}]
    value["denm"]["situation"]["linkedDenms"] = [{"originatingStationId": 9, "sequenceNumber": 4}]
    body = official.encode("DENM", value, check_constraints=True)
    assert _diff(codec.decode(body), value) == []
