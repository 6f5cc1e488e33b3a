"""The ``traffic_broadcast`` plugin: fused objects -> ETSI CPMs on ``rsu/<site>/v2x/cpm`` and a V2X radio.

Each instance of :class:`TrafficBroadcast` is one plugin (the entry point names the class; the host
instantiates it). Settings (``plugins.traffic_broadcast`` in the config) are described by
:data:`CONFIG_SCHEMA`; every key has a default.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

from rsu_sdk import EncoderSpec, ObjectList, PluginConfigError, PluginContext, SiteInfo, hookimpl

from rsu_traffic_broadcast import codec
from rsu_traffic_broadcast.cpm_builder import SENSOR_TYPES, SensorEntry, SensorRegistry, Station, build_cpm
from rsu_traffic_broadcast.generator import CpmGenerator
from rsu_traffic_broadcast.inclusion import RatePolicy
from rsu_traffic_broadcast.radio import CPM_RADIO_SCHEMA, CpmRadio, radio_settings

__all__ = ["CONFIG_SCHEMA", "ENCODING", "TrafficBroadcast", "default_station_id", "encode_object_list",
           "encoder_spec"]

ENCODING = "cpm-uper"
PRODUCT = "v2x/cpm"

CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "station_id": {"type": "integer", "minimum": 0, "maximum": 4294967295,
                       "description": "ITS StationId of the box; default: CRC-32 of the site name"},
        "radio": {**CPM_RADIO_SCHEMA,
                  "description": "the V2X radio (GeoNetworking/BTP on Ethernet, or UDP to a vendor stack); "
                                 "absent: no sending"},
        "radios": {"type": "array", "maxItems": 8, "items": CPM_RADIO_SCHEMA,
                   "description": "more radios, each with its own mode"},
        "busy_hz": {"type": "number", "minimum": 1, "maximum": 10, "default": 10,
                    "description": "CPM rate with at least busy_threshold tracked objects"},
        "quiet_hz": {"type": "number", "minimum": 1, "maximum": 10, "default": 5,
                     "description": "CPM rate with fewer tracked objects"},
        "busy_threshold": {"type": "integer", "minimum": 0, "default": 5},
        "max_bytes": {"type": "integer", "minimum": 200, "maximum": 65000, "default": 1100,
                      "description": "size limit of one CPM; larger ones are split (at most 8 segments)"},
        "include_tentative": {"type": "boolean", "default": False,
                              "description": "also send tracks that are not confirmed yet"},
        "sensors": {
            "type": "array", "maxItems": 128,
            "description": "how the CPM describes the box's sensors; unlisted sources get ids automatically",
            "items": {
                "type": "object", "additionalProperties": False, "required": ["source", "id"],
                "properties": {
                    "source": {"type": "string", "minLength": 1},
                    "id": {"type": "integer", "minimum": 0, "maximum": 255},
                    "type": {"enum": sorted(SENSOR_TYPES)},
                    "range_m": {"type": "number", "exclusiveMinimum": 0, "maximum": 409.5},
                },
            },
        },
    },
}
"""JSON Schema of ``plugins.traffic_broadcast``."""


def default_station_id(site_name: str) -> int:
    """The StationId used when the config names none: CRC-32 of the site name (stable across restarts)."""
    return zlib.crc32(site_name.encode("utf-8"))


def _sensors(config: Mapping[str, Any]) -> SensorRegistry:
    entries = []
    seen: set[int] = set()
    for i, s in enumerate(config.get("sensors") or ()):
        if s["id"] in seen:
            raise PluginConfigError("traffic_broadcast", [f"sensors[{i}].id: {s['id']} is used twice"])
        seen.add(s["id"])
        entries.append(SensorEntry(source=s["source"], sensor_id=s["id"],
                                   sensor_type=SENSOR_TYPES[s.get("type", "undefined")], range_m=s.get("range_m")))
    return SensorRegistry(entries)


def encode_object_list(objects: ObjectList, site: SiteInfo) -> bytes:
    """One CPM with every object of ``objects`` (no inclusion rules, no splitting), UPER-encoded.

    What :attr:`EncoderSpec.encode_objects` exposes, so that ``rsu bench v2x`` can time the format.
    """
    station = Station(station_id=default_station_id(site.name), site=site)
    value = build_cpm(list(objects.objects), station=station, reference_ns=objects.t_event_ns,
                      sensors=SensorRegistry(), sensor_information=True)
    return codec.encode(value)


def encoder_spec() -> EncoderSpec:
    """The ``cpm-uper`` encoder: decode to / encode from the JER JSON form, and encode object lists."""
    return EncoderSpec(name=ENCODING, decode=codec.decode_json, encode=codec.encode_json,
                       encode_objects=encode_object_list,
                       description="ETSI TS 103 324 v2.1.1 Collective Perception Message, UPER")


class TrafficBroadcast:
    """Plugin object: builds CPMs from fused objects, publishes them and forwards them to the radio."""

    def __init__(self) -> None:
        self.context: PluginContext | None = None
        self.generator: CpmGenerator | None = None
        self.radios: list[CpmRadio] = []
        self.station_id = 0
        self.published = 0

    @hookimpl
    def rsu_config_schema(self) -> Mapping[str, Any]:
        return CONFIG_SCHEMA

    @hookimpl
    def rsu_register_encoders(self) -> list[EncoderSpec]:
        return [encoder_spec()]

    @hookimpl
    def rsu_on_start(self, context: PluginContext) -> None:
        config = context.config
        self.context = context
        self.station_id = int(config.get("station_id", default_station_id(context.site.name)))
        busy, quiet = float(config.get("busy_hz", 10)), float(config.get("quiet_hz", 5))
        station = Station(station_id=self.station_id, site=context.site,
                          rate_min_hz=1.0, rate_max_hz=max(busy, quiet))
        rate = RatePolicy(busy_hz=busy, quiet_hz=quiet, busy_threshold=int(config.get("busy_threshold", 5)))
        self.generator = CpmGenerator(station, sensors=_sensors(config), rate=rate,
                                      max_bytes=int(config.get("max_bytes", 1100)),
                                      include_tentative=bool(config.get("include_tentative", False)))
        codec.specification("uper")  # compile now, not on the first cycle
        for path, settings in radio_settings(config):
            try:
                self.radios.append(CpmRadio(settings, station_id=self.station_id, site=context.site))
            except (ValueError, OSError) as exc:
                self._close_radios()
                reason = str(exc).removeprefix("radio: ")
                raise PluginConfigError("traffic_broadcast", [f"{path}: {reason}"]) from None
        context.logger.info("traffic_broadcast: station %d, %s Hz busy / %s Hz quiet, radios %s",
                            self.station_id, busy, quiet, ", ".join(map(str, self.radios)) or "off")

    @hookimpl
    def rsu_on_objects(self, objects: ObjectList) -> None:
        if self.generator is None or self.context is None:
            return
        publisher = self.context.publisher
        for cpm in self.generator.on_objects(objects):
            publisher.publish_binary(PRODUCT, cpm.header(self.station_id), cpm.body, t_event_ns=cpm.t_event_ns)
            self.published += 1
            for radio in self.radios:
                radio.send(cpm.body)

    @hookimpl
    def rsu_on_stop(self) -> None:
        radios = [r.stats() for r in self.radios]
        self._close_radios()
        if self.context is not None and self.generator is not None:
            self.context.logger.info(
                "traffic_broadcast: %s; published %d; radios %s", self.generator.counts, self.published,
                "; ".join(f"{r['link']} sent {r['sent'].get('cpm', 0)}, errors {r['errors']}" for r in radios)
                or "off")

    def _close_radios(self) -> None:
        for radio in self.radios:
            radio.close()

    def stats(self) -> dict[str, Any]:
        """Counters for tests and diagnostics."""
        out: dict[str, Any] = dict(self.generator.counts) if self.generator else {}
        out["published"] = self.published
        if self.radios:
            out["radios"] = [r.stats() for r in self.radios]
        return out
