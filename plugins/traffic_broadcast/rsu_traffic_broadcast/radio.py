"""The plugin's radios: each CPM goes out on every configured :class:`rsu_sdk.v2x.Radio`.

A radio's settings are the SDK's (:data:`rsu_sdk.v2x.RADIO_SCHEMA`: ``mode`` ``ethernet`` | ``udp-framed`` |
``udp-bare``, ``interface``, ``host``/``port``, ``pcap``, ...) plus one interoperability setting,
``cpm_containers_extension_bit`` (see :func:`rsu_traffic_broadcast.codec.recode_containers_size`).
A CPM travels as a single-hop broadcast on BTP-B port 2009. Failures are counted, never raised.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from rsu_sdk import SiteInfo
from rsu_sdk.v2x import RADIO_SCHEMA, Radio

from rsu_traffic_broadcast import codec

__all__ = ["CPM_RADIO_SCHEMA", "CpmRadio", "radio_settings"]

log = logging.getLogger(__name__)

CPM_RADIO_SCHEMA: dict[str, Any] = {
    **RADIO_SCHEMA,
    "properties": {
        **RADIO_SCHEMA["properties"],
        "cpm_containers_extension_bit": {
            "type": "boolean", "default": True,
            "description": "true: cpmContainers' size as X.691 requires (extension bit); false: for receivers "
                           "whose decoder reads SIZE(1..8) without it (older asn1c-generated stacks)"},
    },
}
"""JSON Schema of one radio of this plugin."""


def radio_settings(config: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """``(key path, settings)`` of each enabled radio: ``radio`` (one) and ``radios`` (a list)."""
    out: list[tuple[str, Mapping[str, Any]]] = []
    if config.get("radio"):
        out.append(("radio", config["radio"]))
    out += [(f"radios[{i}]", r) for i, r in enumerate(config.get("radios") or ())]
    return [(path, r) for path, r in out if r.get("enabled", True)]


class CpmRadio:
    """One radio sending CPMs, with the receiver-reading setting applied.

    :raises ValueError: bad settings.   :raises OSError: the link cannot be opened.
    """

    def __init__(self, settings: Mapping[str, Any], *, station_id: int, site: SiteInfo) -> None:
        sdk_settings = {k: v for k, v in settings.items() if k != "cpm_containers_extension_bit"}
        self.extension_bit = bool(settings.get("cpm_containers_extension_bit", True))
        if not self.extension_bit:
            codec.specification("uper", size_extension_bit=False)  # compile now, not on the first CPM
        self.radio = Radio(sdk_settings, station_id=station_id, lat=site.lat, lon=site.lon)
        self.recode_errors = 0

    def send(self, body: bytes) -> None:
        """Send one CPM (re-encoded for the configured reading); never raises."""
        try:
            wire = codec.recode_containers_size(body, size_extension_bit=self.extension_bit)
        except codec.CpmCodecError as exc:
            if self.recode_errors == 0:
                log.error("V2X radio %s: %s (CPM not sent)", self.radio.link, exc)
            self.recode_errors += 1
            return
        self.radio.send(wire, kind="cpm")

    def stats(self) -> dict[str, Any]:
        """The SDK radio's counters plus ``extension_bit`` and ``recode_errors``."""
        return {**self.radio.stats(), "extension_bit": self.extension_bit, "recode_errors": self.recode_errors}

    def close(self) -> None:
        """Close the radio (idempotent)."""
        self.radio.close()

    def __str__(self) -> str:
        return str(self.radio.link)
