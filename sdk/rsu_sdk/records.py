"""Typed records that plugins return from the ``rsu_register_*`` hooks."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rsu_sdk.types import ObjectList, Product

if TYPE_CHECKING:
    from rsu_sdk.context import SiteInfo

__all__ = ["SourceSpec", "EncoderSpec", "ModelSpec"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceSpec:
    """A kind of input a plugin adds, usable as ``sources[i].type`` in the config.

    Give exactly one of ``open`` (a generator: the simple way) and ``build`` (a long-running source object,
    as the host's own source types are registered).

    :param kind: the ``type`` value that selects it, e.g. ``weather_station``.
    :param open: called with the source's settings (a mapping) and a stop flag (a callable
        returning True once the host shuts down); yields products until the input ends.
    :param config_schema: JSON Schema of the source's settings, or None to accept any.
    :param build: called with the source's settings (a mapping with its ``id`` added; the host's own types get
        their validated config) and the folder relative paths are taken from; returns an
        object with ``id``, ``run(emit, stop)`` (blocks until the ``threading.Event`` ``stop`` is set or the
        input ends, handing each product to ``emit``, reconnecting on its own) and ``stats() -> dict``.
        Raise ``ValueError`` or :class:`~rsu_sdk.RsuError` naming what is wrong for a source that cannot be
        built (a missing file).
    :param readings: whether it yields plant :class:`~rsu_sdk.SensorReading` products (fault prediction runs
        only when some enabled source may).

    .. versionchanged:: 0.2 ``build`` and ``readings`` added; ``open`` optional when ``build`` is given.
    """

    kind: str
    open: Callable[[Mapping[str, Any], Callable[[], bool]], Iterator[Product]] | None = None
    config_schema: Mapping[str, Any] | None = None
    description: str = ""
    build: Callable[[Any, Path], Any] | None = None
    readings: bool = True

    def __post_init__(self) -> None:
        if (self.open is None) == (self.build is None):
            raise ValueError(f"SourceSpec {self.kind!r}: expected exactly one of open and build")


@dataclass(frozen=True, slots=True, kw_only=True)
class EncoderSpec:
    """A binary message format a plugin publishes, so that ``rsu tap`` can decode it.

    :param name: the header's ``encoding`` value, e.g. ``cpm-uper``.
    :param decode: turns a body into a JSON-serialisable mapping.
    :param encode: the inverse of ``decode`` (a mapping as ``decode`` returns it -> body), or None.
    :param encode_objects: builds and encodes one message carrying all fused objects of a cycle for a
        site, or None when the format does not carry objects. Lets the host benchmark or replay the
        format without importing the plugin.

    .. versionchanged:: 0.1 ``encode_objects`` added.
    """

    name: str
    decode: Callable[[bytes], Mapping[str, Any]]
    encode: Callable[[Mapping[str, Any]], bytes] | None = None
    description: str = ""
    encode_objects: Callable[[ObjectList, SiteInfo], bytes] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelSpec:
    """A model file a plugin ships or expects, checked by ``rsu check``.

    :param name: how the config refers to it.
    :param path: the file (ONNX, TFLite).
    :param kind: what it does, e.g. ``fault-predictor``.
    :param metadata: free-form facts (inputs, normalisation statistics, ...).
    """

    name: str
    path: Path
    kind: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
