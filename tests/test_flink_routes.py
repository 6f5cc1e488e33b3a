"""The Kafka-fed job's route table and batch codec: what the JVM half is told and what crosses to Python
(no Flink needed; the job itself runs in tests/test_flink_kafka.py)."""

from __future__ import annotations

from typing import Any

import pytest
from rsu_sdk import Detections, Prediction, RadarScan, SensorReading

from rsu.pipeline.flink.batch_codec import decode_batch, decode_results, encode_batch, encode_results
from rsu.pipeline.flink.routes import KIND_RANK, SCHEMA_TYPES, RouteError, route_spec
from rsu.pipeline.operators import Operator
from rsu.pipeline.window_op import DeviceWindowOperator


class _BySource(Operator):
    name = "by-source"
    handles = (Detections, RadarScan)


class _OwnKey(Operator):
    name = "own-key"
    handles = (SensorReading,)

    def key(self, element: Any) -> str:
        return element.device[:3]


class _Group(Operator):
    name = "group"
    handles = (Detections, RadarScan)

    def key(self, element: Any) -> str:
        return "site-a"

    def key_spec(self) -> tuple[str, str]:
        return ("const", "site-a")


def _lines(spec: str) -> list[list[str]]:
    return [line.split("\t") for line in spec.splitlines()]


def test_route_table_names_each_schema_operator_rank_and_key() -> None:
    ops = [_BySource(), DeviceWindowOperator(("a",), window=2), _Group()]
    rows = _lines(route_spec(ops))
    assert ["rsu.detections/1", "0", "0", "field", "source"] in rows
    assert ["rsu.radar/1", "0", "1", "field", "source"] in rows
    assert ["rsu.env/1", "1", "2", "field", "device"] in rows
    assert ["rsu.radar/1", "2", "1", "const", "site-a"] in rows
    assert len(rows) == 5  # detections and radar twice, readings once; nothing routes objects or faults
    assert SCHEMA_TYPES["rsu.env/1"] is SensorReading and KIND_RANK["Detections"] < KIND_RANK["RadarScan"]


def test_an_operator_with_its_own_key_must_say_how_the_jvm_reads_it() -> None:
    with pytest.raises(RouteError, match=r"operator 0 \(own-key, _OwnKey\) overrides key\(\) but not key_spec"):
        route_spec([_OwnKey()])

    class _Tab(_Group):
        def key_spec(self) -> tuple[str, str]:
            return ("const", "a\tb")

    with pytest.raises(RouteError, match="without tab, newline or '|'"):
        route_spec([_Tab()])


def test_batch_and_results_round_trip_as_the_jvm_writes_and_reads_them() -> None:
    envelopes = [b'{"schema":"rsu.env/1"}', "{\"n\":\"\u00e9\"}".encode(), b""]
    assert decode_batch(encode_batch(2**63 - 1, "1|p1-d\u00e9", envelopes)) == (2**63 - 1, "1|p1-d\u00e9", envelopes)
    rows = [("rsu.out.fault", "1|p1-d03", 1_700_000_000_123, b'{"seq":1}'), ("t", "", -5, b"")]
    assert decode_results(encode_results(rows)) == rows
    assert encode_results([]) == b""


def test_result_envelope_round_trips_through_orjson() -> None:
    from rsu.pipeline.flink.records import envelope_bytes, from_envelope

    ok = Prediction(source="s", t_event_ns=5, device="d", model="m", score=0.25)
    site, back, _ = from_envelope(envelope_bytes(ok, "plant", 1, "b"))
    assert (site, back) == ("plant", ok)
