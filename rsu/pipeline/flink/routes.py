"""The route table of the Kafka-fed job: which operator takes which product schema and what it keys on.

The JVM reads each product record's key and event time (``rsu.flink.RouteFunction`` in ``deploy/flink/job``), so
the operators' keys must be readable from the v1 envelope without Python: :meth:`Operator.key_spec` names the
field (or a constant key). The table is text, one route a line, tab-separated:
``<schema id> <operator index> <rank> field|const <field or key>``; ``rank`` orders product kinds at the same
event time (detections, radar, readings, others), as the embedded runner does.
"""

from __future__ import annotations

from collections.abc import Sequence

from rsu_sdk.payloads import PRODUCT_OF

from rsu.pipeline.flink.records import DECODERS
from rsu.pipeline.operators import Operator

__all__ = ["RouteError", "SCHEMA_TYPES", "KIND_RANK", "route_spec"]

SCHEMA_TYPES: dict[str, type] = {schema: t for t, (_, schema) in PRODUCT_OF.items() if schema in DECODERS}
"""Schema id -> the SDK type a product record of it decodes into."""
KIND_RANK: dict[str, int] = {"Detections": 0, "RadarScan": 1, "SensorReading": 2}
"""Order of product kinds at the same event time (others: 9)."""


class RouteError(ValueError):
    """An operator the Kafka job cannot key in the JVM (the message names it and the fix)."""


def _spec(i: int, op: Operator) -> tuple[str, str]:
    overrides_key = type(op).key is not Operator.key
    declares_spec = type(op).key_spec is not Operator.key_spec
    if overrides_key and not declares_spec:
        raise RouteError(f"operator {i} ({op.name}, {type(op).__name__}) overrides key() but not key_spec(): the "
                         f"Kafka job keys products in the JVM by an envelope field; say which one in key_spec()")
    kind, value = op.key_spec()
    if kind not in ("field", "const") or not value or any(c in value for c in "\t\n|"):
        raise RouteError(f"operator {i} ({op.name}): key_spec() must be ('field', NAME) or ('const', KEY) without "
                         f"tab, newline or '|', got {(kind, value)!r}")
    return kind, value


def route_spec(operators: Sequence[Operator]) -> str:
    """The route table of ``operators`` (RouteError when one cannot be keyed in the JVM)."""
    lines = []
    specs = [_spec(i, op) for i, op in enumerate(operators)]
    for schema, kind in SCHEMA_TYPES.items():
        for i, op in enumerate(operators):
            if issubclass(kind, op.handles):
                lines.append("\t".join((schema, str(i), str(KIND_RANK.get(kind.__name__, 9)), *specs[i])))
    return "\n".join(lines)
