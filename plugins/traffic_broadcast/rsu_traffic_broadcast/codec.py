"""UPER encoding and decoding of Collective Perception Messages with the plugin's own ASN.1 module.

The module (``asn1/rsu-cpm.asn``) is compiled once per process. A CPM value is the asn1tools form of
``CollectivePerceptionMessage`` (CHOICE values as ``(name, value)`` tuples) except that each wrapped
container carries its decoded value, not its bytes: ``{"containerId": 5, "containerData": {...}}``.
The codec encodes the inner containers itself (they are an open type in the standard).

:func:`to_json` / :func:`from_json` convert to and from the X.697 JSON encoding (JER) of the same types,
which is what ``rsu tap`` prints.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import asn1tools

__all__ = [
    "CONTAINER_TYPES",
    "CPM_MESSAGE_ID",
    "CPM_PROTOCOL_VERSION",
    "ORIGINATING_RSU",
    "PERCEIVED_OBJECTS",
    "SENSOR_INFORMATION",
    "SCHEMA_FILE",
    "CpmCodecError",
    "decode",
    "decode_json",
    "encode",
    "encode_json",
    "from_json",
    "specification",
    "to_json",
]

SCHEMA_FILE = Path(__file__).with_name("asn1") / "rsu-cpm.asn"

CPM_MESSAGE_ID = 14
CPM_PROTOCOL_VERSION = 2

ORIGINATING_RSU = 2
SENSOR_INFORMATION = 3
PERCEIVED_OBJECTS = 5

CONTAINER_TYPES: dict[int, str] = {
    ORIGINATING_RSU: "OriginatingRsuContainer",
    SENSOR_INFORMATION: "SensorInformationContainer",
    PERCEIVED_OBJECTS: "PerceivedObjectContainer",
}
"""containerId -> the type of its containerData. Other ids (1 vehicle, 4 perception region) stay bytes."""

_MESSAGE = "CollectivePerceptionMessage"


class CpmCodecError(ValueError):
    """A CPM could not be encoded or decoded; the message names the part that failed."""


@functools.cache
def specification(codec: str = "uper") -> asn1tools.compiler.Specification:
    """The compiled module for ``codec`` (``uper`` or ``jer``), compiled on first use only."""
    return asn1tools.compile_files([str(SCHEMA_FILE)], codec)


def encode(cpm: Mapping[str, Any], *, check_constraints: bool = False) -> bytes:
    """UPER-encode a CPM value whose containers hold decoded values (see the module docstring).

    The hot path passes values built by :mod:`rsu_traffic_broadcast.cpm_builder`, already clamped to the
    standard's ranges; ``check_constraints=True`` checks ranges (for values from outside).

    :raises CpmCodecError: a value does not fit its type (naming the container).
    """
    spec = specification("uper")
    try:
        payload = cpm["payload"]
        wrapped = []
        for i, container in enumerate(payload["cpmContainers"]):
            cid = container["containerId"]
            data = container["containerData"]
            if not isinstance(data, (bytes, bytearray)):
                type_name = CONTAINER_TYPES.get(cid)
                if type_name is None:
                    raise CpmCodecError(f"cpmContainers[{i}]: containerId {cid} has no known type; pass bytes")
                data = spec.encode(type_name, data, check_constraints=check_constraints)
            wrapped.append({"containerId": cid, "containerData": bytes(data)})
        outer = {"header": cpm["header"], "payload": {**payload, "cpmContainers": wrapped}}
        return spec.encode(_MESSAGE, outer, check_constraints=check_constraints)
    except CpmCodecError:
        raise
    except (asn1tools.Error, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CpmCodecError(f"cannot encode CPM: {type(exc).__name__}: {exc}") from None


def decode(body: bytes) -> dict[str, Any]:
    """Decode a UPER CPM; containers of a known type are decoded too, others keep their bytes.

    :raises CpmCodecError: the bytes are not a CPM of this module (truncated, wrong message, ...).
    """
    spec = specification("uper")
    try:
        cpm = spec.decode(_MESSAGE, bytes(body))
    except (asn1tools.Error, IndexError, ValueError, TypeError) as exc:
        raise CpmCodecError(f"not a CPM ({len(body)} bytes): {type(exc).__name__}: {exc}") from None
    for i, container in enumerate(cpm["payload"]["cpmContainers"]):
        type_name = CONTAINER_TYPES.get(container["containerId"])
        if type_name is None:
            continue
        try:
            container["containerData"] = spec.decode(type_name, container["containerData"])
        except (asn1tools.Error, IndexError, ValueError, TypeError) as exc:
            raise CpmCodecError(f"cpmContainers[{i}] ({type_name}): {type(exc).__name__}: {exc}") from None
    return cpm


def to_json(cpm: Mapping[str, Any]) -> dict[str, Any]:
    """The JER (X.697) form of a decoded CPM, containers expanded; undecoded containers as hex strings."""
    jer = specification("jer")
    containers = []
    for container in cpm["payload"]["cpmContainers"]:
        cid, data = container["containerId"], container["containerData"]
        type_name = CONTAINER_TYPES.get(cid)
        if isinstance(data, (bytes, bytearray)) or type_name is None:
            value: Any = bytes(data).hex()
        else:
            value = json.loads(jer.encode(type_name, data))
        containers.append({"containerId": cid, "containerData": value})
    placeholder = {**cpm, "payload": {**cpm["payload"], "cpmContainers": [
        {"containerId": c["containerId"], "containerData": b""} for c in containers]}}
    out = json.loads(jer.encode(_MESSAGE, placeholder))
    out["payload"]["cpmContainers"] = containers
    return out


def from_json(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`to_json`: a CPM value :func:`encode` accepts.

    :raises CpmCodecError: the document does not match the CPM types (naming the part).
    """
    jer = specification("jer")
    try:
        containers = []
        for i, container in enumerate(doc["payload"]["cpmContainers"]):
            cid, data = container["containerId"], container["containerData"]
            type_name = CONTAINER_TYPES.get(cid)
            if isinstance(data, str):
                value: Any = bytes.fromhex(data)
            elif type_name is None:
                raise CpmCodecError(f"cpmContainers[{i}]: containerId {cid} has no known type; give hex")
            else:
                value = jer.decode(type_name, json.dumps(data).encode())
            containers.append({"containerId": cid, "containerData": value})
        shell = {**doc, "payload": {**doc["payload"], "cpmContainers": [
            {"containerId": c["containerId"], "containerData": ""} for c in containers]}}
        out = jer.decode(_MESSAGE, json.dumps(shell).encode())
    except CpmCodecError:
        raise
    except (asn1tools.Error, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CpmCodecError(f"not a CPM document: {type(exc).__name__}: {exc}") from None
    out["payload"]["cpmContainers"] = containers
    return out


def decode_json(body: bytes) -> dict[str, Any]:
    """UPER bytes -> JER JSON mapping (what ``rsu tap`` prints for ``encoding: cpm-uper``)."""
    return to_json(decode(body))


def encode_json(doc: Mapping[str, Any]) -> bytes:
    """JER JSON mapping -> UPER bytes, ranges checked (inverse of :func:`decode_json`)."""
    return encode(from_json(doc), check_constraints=True)
