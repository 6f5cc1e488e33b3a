"""UPER encoding and decoding of DENMs with the plugin's own ASN.1 module (``asn1/rsu-denm.asn``).

A DENM value is the asn1tools form of ``DENM`` (CHOICE values as ``(name, value)`` tuples). The module is
compiled once per process. :func:`decode_json` / :func:`encode_json` convert between UPER bytes and the
X.697 JSON encoding (JER) of the same type, which is what ``rsu tap`` prints for ``encoding: denm-uper``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import asn1tools

__all__ = ["DENM_MESSAGE_ID", "DENM_PROTOCOL_VERSION", "DenmCodecError", "SCHEMA_FILE", "decode", "decode_json",
           "encode", "encode_json", "specification"]

SCHEMA_FILE = Path(__file__).with_name("asn1") / "rsu-denm.asn"
DENM_MESSAGE_ID = 1
DENM_PROTOCOL_VERSION = 2
_MESSAGE = "DENM"
_ERRORS = (asn1tools.Error, KeyError, IndexError, TypeError, ValueError, AttributeError)


class DenmCodecError(ValueError):
    """A DENM could not be encoded or decoded; the message says what failed."""


@functools.cache
def specification(codec: str = "uper") -> asn1tools.compiler.Specification:
    """The compiled module for ``codec`` (``uper`` or ``jer``), compiled on first use only."""
    return asn1tools.compile_files([str(SCHEMA_FILE)], codec)


def encode(denm: Mapping[str, Any], *, check_constraints: bool = False) -> bytes:
    """UPER-encode a DENM value (built values are in range; ``check_constraints`` for values from outside).

    :raises DenmCodecError: a value does not fit its type.
    """
    try:
        return specification("uper").encode(_MESSAGE, dict(denm), check_constraints=check_constraints)
    except _ERRORS as exc:
        raise DenmCodecError(f"cannot encode DENM: {type(exc).__name__}: {exc}") from None


def decode(body: bytes) -> dict[str, Any]:
    """Decode UPER bytes into a DENM value.

    :raises DenmCodecError: the bytes are not a DENM of this module (truncated, another message, ...).
    """
    try:
        value = specification("uper").decode(_MESSAGE, bytes(body))
    except _ERRORS as exc:
        raise DenmCodecError(f"not a DENM ({len(body)} bytes): {type(exc).__name__}: {exc}") from None
    header = value["header"]
    if header["messageId"] != DENM_MESSAGE_ID:
        raise DenmCodecError(f"not a DENM: header.messageId is {header['messageId']}, expected {DENM_MESSAGE_ID}")
    return value


def decode_json(body: bytes) -> dict[str, Any]:
    """UPER bytes -> JER JSON mapping (what ``rsu tap`` prints)."""
    value = decode(body)
    return json.loads(specification("jer").encode(_MESSAGE, value))


def encode_json(doc: Mapping[str, Any]) -> bytes:
    """JER JSON mapping -> UPER bytes, ranges checked (inverse of :func:`decode_json`).

    :raises DenmCodecError: the document does not match the DENM type.
    """
    try:
        value = specification("jer").decode(_MESSAGE, json.dumps(dict(doc)).encode("utf-8"))
    except _ERRORS as exc:
        raise DenmCodecError(f"not a DENM document: {type(exc).__name__}: {exc}") from None
    return encode(value, check_constraints=True)
