"""The ``hazard_warning`` plugin: fused objects -> hazard triggers -> DENMs on ``rsu/<site>/v2x/denm`` and a radio.

Settings (``plugins.hazard_warning``) are described by :data:`CONFIG_SCHEMA`; every key but ``zones`` has a
default, and without zones no hazard can be placed (the plugin says so at start-up).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

from rsu_sdk import EncoderSpec, ObjectList, PluginConfigError, PluginContext, hookimpl
from rsu_sdk.v2x import RADIO_SCHEMA, CircularArea, Radio

from rsu_hazard_warning import codec
from rsu_hazard_warning.denm import Station
from rsu_hazard_warning.lifecycle import DenmLifecycle, Transmission
from rsu_hazard_warning.triggers import TRIGGERS_SCHEMA, HazardTracker, settings_from_config
from rsu_hazard_warning.zones import ZONES_SCHEMA, parse_zones

__all__ = ["CONFIG_SCHEMA", "ENCODING", "PRODUCT", "SCHEMA_ID", "HazardWarning", "encoder_spec"]

ENCODING = "denm-uper"
PRODUCT = "v2x/denm"
SCHEMA_ID = "rsu.v2x.denm/1"

CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "station_id": {"type": "integer", "minimum": 0, "maximum": 4294967295,
                       "description": "ITS StationId of the box; default: CRC-32 of the site name"},
        "zones": ZONES_SCHEMA,
        "triggers": TRIGGERS_SCHEMA,
        "lost_s": {"type": "number", "exclusiveMinimum": 0, "default": 2.0,
                   "description": "a track absent this long ends its hazards"},
        "repetition_s": {"type": "number", "minimum": 0.1, "maximum": 10, "default": 1.0,
                         "description": "DENM repetition interval (transmissionInterval)"},
        "update_s": {"type": "number", "minimum": 0.1, "default": 3.0,
                     "description": "an active event is updated (new referenceTime, latest position) this often"},
        "validity_s": {"type": "integer", "minimum": 1, "maximum": 86400, "default": 10,
                       "description": "validityDuration of each DENM, from its detectionTime"},
        "cancel_repeat_s": {"type": "number", "minimum": 0, "default": 3.0,
                            "description": "a cancellation DENM is repeated this long"},
        "awareness": {"enum": [0, 1, 2, 3, 4, 5, 6, 7], "default": 1,
                      "description": "awarenessDistance code (StandardLength3b): 1 = less than 100 m"},
        "road_type": {"enum": [0, 1, 2, 3], "default": 0, "description": "RoadType code (0 urban, no separation)"},
        "destination_radius_m": {"type": "number", "exclusiveMinimum": 0, "maximum": 65535, "default": 300,
                                 "description": "radius of the geo-broadcast circle around the event"},
        "radio": {**RADIO_SCHEMA, "description": "the V2X radio (rsu_sdk.v2x); absent: bus only"},
    },
}
"""JSON Schema of ``plugins.hazard_warning``."""


def encoder_spec() -> EncoderSpec:
    """The ``denm-uper`` encoder: UPER DENM <-> its JER JSON form (what ``rsu tap`` prints)."""
    return EncoderSpec(name=ENCODING, decode=codec.decode_json, encode=codec.encode_json,
                       description="ETSI TS 103 831 v2.3.1 Decentralized Environmental Notification Message, UPER")


class HazardWarning:
    """Plugin object: runs the triggers on each fused-object cycle and sends the DENMs the life cycle asks for."""

    def __init__(self) -> None:
        self.context: PluginContext | None = None
        self.tracker: HazardTracker | None = None
        self.lifecycle: DenmLifecycle | None = None
        self.radio: Radio | None = None
        self.radius_m = 300.0
        self.last_t_ns: int | None = None
        self.published = 0
        self.errors = 0

    @hookimpl
    def rsu_config_schema(self) -> Mapping[str, Any]:
        return CONFIG_SCHEMA

    @hookimpl
    def rsu_register_encoders(self) -> list[EncoderSpec]:
        return [encoder_spec()]

    @hookimpl
    def rsu_on_start(self, context: PluginContext) -> None:
        config = context.config
        zones, problems = parse_zones(config.get("zones"))
        if float(config.get("update_s", 3.0)) >= int(config.get("validity_s", 10)):
            problems.append("update_s: must be shorter than validity_s, or receivers drop an event that still lasts")
        if problems:
            raise PluginConfigError("hazard_warning", problems)
        self.context = context
        station_id = int(config.get("station_id", zlib.crc32(context.site.name.encode("utf-8"))))
        station = Station(station_id=station_id, site=context.site, awareness=int(config.get("awareness", 1)),
                          road_type=int(config.get("road_type", 0)))
        self.tracker = HazardTracker(zones, settings_from_config(config.get("triggers"),
                                                                 float(config.get("lost_s", 2.0))))
        self.lifecycle = DenmLifecycle(station, repetition_s=float(config.get("repetition_s", 1.0)),
                                       update_s=float(config.get("update_s", 3.0)),
                                       validity_s=int(config.get("validity_s", 10)),
                                       cancel_repeat_s=float(config.get("cancel_repeat_s", 3.0)))
        self.radius_m = float(config.get("destination_radius_m", 300.0))
        codec.specification("uper")  # compile now, not on the first hazard
        radio = config.get("radio")
        if radio and radio.get("enabled", True):
            settings = {k: v for k, v in radio.items() if k != "enabled"}
            try:
                self.radio = Radio(settings, station_id=station_id, lat=context.site.lat, lon=context.site.lon)
            except (ValueError, OSError) as exc:
                raise PluginConfigError("hazard_warning", [f"radio: {exc}"]) from None
        if not zones.zones:
            context.logger.warning("hazard_warning: no zones configured; no hazard can be raised")
        context.logger.info("hazard_warning: station %d, %d zones, triggers %s, radio %s", station_id,
                            len(zones.zones), sorted(self.tracker.settings.enabled),
                            self.radio.mode if self.radio else "off")

    def _send(self, transmissions: list[Transmission]) -> None:
        assert self.context is not None
        for tx in transmissions:
            try:
                self.context.publisher.publish_binary(PRODUCT, tx.header(), tx.body, t_event_ns=tx.t_event_ns,
                                                      schema=SCHEMA_ID)
                self.published += 1
            except Exception as exc:  # noqa: BLE001 - a publish failure must not lose the radio copy
                self.errors += 1
                self.context.logger.warning("hazard_warning: publish failed: %s", exc)
            if self.radio is not None:
                o = tx.state.obj
                try:
                    area = CircularArea(lat=o.lat, lon=o.lon, radius_m=self.radius_m)
                except ValueError:
                    area = None
                self.radio.send(tx.body, kind="denm", destination_area=area)

    @hookimpl
    def rsu_on_objects(self, objects: ObjectList) -> None:
        if self.tracker is None or self.lifecycle is None:
            return
        t = objects.t_event_ns
        if self.last_t_ns is not None and t < self.last_t_ns:
            self.errors += 1  # out-of-order cycle: counted and skipped
            return
        self.last_t_ns = t
        self._send(self.lifecycle.on_cycle(t, self.tracker.on_objects(objects)))

    @hookimpl
    def rsu_on_stop(self) -> None:
        if self.lifecycle is not None and self.last_t_ns is not None:
            self._send(self.lifecycle.stop(self.last_t_ns))
        if self.radio is not None:
            self.radio.close()
        if self.context is not None:
            self.context.logger.info("hazard_warning: %s", self.stats())

    def stats(self) -> dict[str, Any]:
        """Counters for tests and diagnostics."""
        out: dict[str, Any] = {"published": self.published, "errors": self.errors}
        if self.tracker is not None:
            out["triggers"] = dict(self.tracker.counts)
        if self.lifecycle is not None:
            out["denm"] = dict(self.lifecycle.counts)
        if self.radio is not None:
            out["radio"] = self.radio.stats()
        return out
