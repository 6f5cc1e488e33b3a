"""Typed records that plugins return from the ``rsu_register_*`` hooks."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rsu_sdk.types import ObjectList, Product

if TYPE_CHECKING:
    from rsu_sdk.context import SiteInfo

__all__ = ["SourceSpec", "EncoderSpec", "ModelSpec", "StageSpec", "THREAD_MODELS"]


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
    :param produces: the product types it yields (``rsu graph`` draws them); empty: any product.

    .. versionchanged:: 0.2 ``build`` and ``readings`` added; ``open`` optional when ``build`` is given.
    .. versionchanged:: 0.3 ``produces`` added.
    """

    kind: str
    open: Callable[[Mapping[str, Any], Callable[[], bool]], Iterator[Product]] | None = None
    config_schema: Mapping[str, Any] | None = None
    description: str = ""
    build: Callable[[Any, Path], Any] | None = None
    readings: bool = True
    produces: tuple[type, ...] = ()

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


THREAD_MODELS = ("inline", "latest-value worker", "batch worker", "periodic")
"""Where a stage runs: on the router thread, on its own thread keeping the newest input per key, on its own
thread taking batches from a queue, or on a timer thread that consumes no products."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StageSpec:
    """One step of the box's dataflow (a stage or an output), declared once and registered through
    ``rsu_register_stages``; the host computes the edges between stages from these.

    :param name: the stage's name (``stage.name`` of the running stage it describes), e.g. ``detector``.
    :param consumes: the product types it takes; :data:`~rsu_sdk.PRODUCT_TYPES` for an output that takes everything.
    :param produces: the product types it makes (routed on to later stages and the outputs).
    :param observes: product types it only watches (never leading to its products): no graph order or cycle
        follows from them; the router hands it those made before it (sources, plugins, earlier stages).
    :param thread: one of :data:`THREAD_MODELS`.
    :param queue: how its input is queued or shed, in words.
    :param output: True for the outputs (publisher, plugins, ...): they end the graph, and what they produce
        enters it again at the first stage, so they never close a cycle.
    :param description: one line for ``rsu graph``.

    .. versionadded:: 0.3
    """

    name: str
    consumes: tuple[type, ...]
    produces: tuple[type, ...] = ()
    observes: tuple[type, ...] = ()
    thread: str = "inline"
    queue: str = ""
    output: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        if self.thread not in THREAD_MODELS:
            raise ValueError(f"StageSpec {self.name!r}: thread must be one of {THREAD_MODELS}, got {self.thread!r}")
