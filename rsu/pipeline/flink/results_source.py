"""The ``flink_results`` source type: a box that reads the Kafka-fed Flink job's committed results.

Registered through ``rsu_register_sources`` by the built-in plugin :class:`FlinkResults` (always enabled), so a
config uses it like any source type::

    sources:
      - {id: results, type: flink_results, bootstrap_servers: "127.0.0.1:9092", output_prefix: rsu.out}

Each committed result (``read_committed``) becomes the SDK product again and goes to the box's outputs: the
ZeroMQ publisher and the plugins (CPM generation), the same wire format as the embedded runner's.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rsu_sdk import ObjectList, Prediction, SourceSpec, hookimpl

__all__ = ["FlinkResults", "SETTINGS_SCHEMA"]

SETTINGS_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "required": ["bootstrap_servers"],
    "additionalProperties": False,
    "properties": {
        "bootstrap_servers": {"type": "string", "minLength": 1, "description": "the brokers, host:port[,...]"},
        "output_prefix": {"type": "string", "pattern": "^[A-Za-z0-9._-]+$", "default": "rsu.out",
                          "description": "the job's result topics are <output_prefix>.<product>"},
        "products": {"type": "array", "items": {"type": "string"}, "default": ["objects", "fault"]},
        "group_id": {"type": "string", "minLength": 1,
                     "description": "consumer group: a restarted box goes on where it stopped"},
        "client": {"type": "object", "description": "extra librdkafka settings (security ...)"},
    },
}


def _build(settings: Mapping[str, Any], base_dir: Path) -> Any:
    from rsu.pipeline.flink.consumer import ResultSource, result_topics

    source_id = str(settings.get("id") or "flink-results")
    topics = result_topics(str(settings.get("output_prefix", "rsu.out")),
                           tuple(settings.get("products", ("objects", "fault"))))
    return ResultSource(source_id, str(settings["bootstrap_servers"]), topics,
                        group_id=settings.get("group_id"), client=settings.get("client"))


class FlinkResults:
    """The built-in plugin registering the ``flink_results`` source type."""

    @hookimpl
    def rsu_register_sources(self) -> list[SourceSpec]:
        return [SourceSpec(kind="flink_results", build=_build, readings=False, produces=(ObjectList, Prediction),
                           config_schema=SETTINGS_SCHEMA,
                           description="the Kafka-fed Flink job's committed results (read_committed)")]
