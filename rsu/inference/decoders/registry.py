"""Which decoder reads a model's outputs: named in the config, in the ONNX metadata, or told by output shapes.

Built-in entries: ``ssd`` and ``nanodet``. ``rsu.inference.decoders.yolo`` (when present) adds its entries
through ``register_decoders(registry)``; a plugin or test can :meth:`DecoderRegistry.register` more.
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rsu.inference.decoders.base import Decoder

__all__ = ["ModelInfo", "DecoderEntry", "DecoderRegistry", "default_registry", "META_DECODER", "META_LABELS",
           "META_PREPROCESS"]

log = logging.getLogger(__name__)

META_DECODER = "rsu.decoder"        # decoder name, e.g. "ssd"
META_LABELS = "rsu.labels"          # JSON list of class names
META_PREPROCESS = "rsu.preprocess"  # JSON object of InputSpec fields (resize, color, mean, std, pad_value)

_EXTRA_MODULES = ("rsu.inference.decoders.yolo",)


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelInfo:
    """What a decoder may look at: the input and output shapes (batch axis first) and the metadata."""

    input_shape: tuple[Any, ...]
    input_size: tuple[int, int]
    layout: str
    output_shapes: tuple[tuple[Any, ...], ...]
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class DecoderEntry:
    """A kind of detector head.

    :param build: makes the decoder for one model.
    :param matches: True when the output shapes look like this head (used with ``kind: auto``).
    :param preprocess: default :class:`~rsu.inference.preprocess.InputSpec` fields for this family.
    :param class_names: the label map when the model carries none.
    """

    name: str
    build: Callable[[ModelInfo], Decoder]
    matches: Callable[[ModelInfo], bool]
    preprocess: Mapping[str, Any] = field(default_factory=dict)
    class_names: tuple[str, ...] | None = None


class DecoderRegistry:
    """Decoder entries by name, in registration order (the order ``auto`` tries them)."""

    def __init__(self) -> None:
        self._entries: dict[str, DecoderEntry] = {}

    def register(self, entry: DecoderEntry) -> None:
        self._entries[entry.name] = entry

    def names(self) -> list[str]:
        return list(self._entries)

    def get(self, name: str) -> DecoderEntry:
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(f"unknown decoder {name!r}; known: {', '.join(self._entries) or 'none'}") from None

    def choose(self, info: ModelInfo, kind: str = "auto") -> DecoderEntry:
        """The entry for ``kind``; for ``auto``: the metadata's ``rsu.decoder``, else the first shape match."""
        if kind != "auto":
            return self.get(kind)
        named = info.metadata.get(META_DECODER)
        if named:
            return self.get(named)
        for entry in self._entries.values():
            try:
                if entry.matches(info):
                    return entry
            except Exception:  # a matcher that cannot read these shapes simply does not match
                log.debug("decoder %s: matcher failed on %s", entry.name, info.output_shapes, exc_info=True)
        raise ValueError(f"no decoder recognises outputs {list(info.output_shapes)}; set models.detector.kind "
                         f"to one of {', '.join(self._entries)}")


def _is3(shape: tuple[Any, ...]) -> bool:
    return len(shape) == 3


def _ssd_matches(info: ModelInfo) -> bool:
    shapes = [s for s in info.output_shapes if _is3(s)]
    if len(info.output_shapes) != 2 or len(shapes) != 2:
        return False
    boxes = [s for s in shapes if s[-1] == 4]
    return len(boxes) == 1 and shapes[0][1] == shapes[1][1] and _ssd_anchor_count(info) == boxes[0][1]


def _ssd_anchor_count(info: ModelInfo) -> int:
    from rsu.inference.decoders.ssd import ssd_anchors

    return int(ssd_anchors(info.input_size).shape[0])


def _ssd_build(info: ModelInfo) -> Decoder:
    from rsu.inference.decoders.ssd import SsdDecoder, ssd_anchors

    return SsdDecoder(ssd_anchors(info.input_size), info.input_size)


def _nanodet_matches(info: ModelInfo) -> bool:
    shapes = info.output_shapes
    if len(shapes) % 2 or not all(_is3(s) for s in shapes):
        return False
    w, h = info.input_size
    cells = sorted({-(-w // s) * -(-h // s) for s in (8, 16, 32)})
    return sorted({s[1] for s in shapes}) == cells and {s[-1] for s in shapes} == {80, 44}


def _nanodet_build(info: ModelInfo) -> Decoder:
    from rsu.inference.decoders.nanodet import NanoDetDecoder

    num_classes = min(s[-1] for s in info.output_shapes if s[-1] != 44) if info.output_shapes else 80
    return NanoDetDecoder(info.input_size, num_classes=int(num_classes))


def _builtin_entries() -> list[DecoderEntry]:
    from rsu.inference.labels import COCO80

    return [
        DecoderEntry(name="ssd", build=_ssd_build, matches=_ssd_matches,
                     preprocess={"resize": "stretch", "color": "rgb", "mean": (127.5,) * 3, "std": (127.5,) * 3}),
        DecoderEntry(name="nanodet", build=_nanodet_build, matches=_nanodet_matches, class_names=COCO80,
                     preprocess={"resize": "stretch", "color": "bgr", "mean": (103.53, 116.28, 123.675),
                                 "std": (57.375, 57.12, 58.395)}),
    ]


_DEFAULT: DecoderRegistry | None = None


def default_registry() -> DecoderRegistry:
    """The registry with the built-in entries and those of the optional decoder modules (built once)."""
    global _DEFAULT
    if _DEFAULT is None:
        reg = DecoderRegistry()
        for entry in _builtin_entries():
            reg.register(entry)
        for module_name in _EXTRA_MODULES:
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name != module_name:
                    raise
                continue
            register = getattr(module, "register_decoders", None)
            if register is not None:
                register(reg)
        _DEFAULT = reg
    return _DEFAULT


def metadata_json(metadata: Mapping[str, str], key: str) -> Any:
    """A JSON value of the model metadata, or None when absent or not JSON."""
    text = metadata.get(key)
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        log.warning("model metadata %s is not JSON: %.60s", key, text)
        return None
