"""The camera detector: frames in, :class:`rsu_sdk.Detections` out (batching, decoding, NMS, class names)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from rsu_sdk import Detections, Frame

from rsu.config.models import DetectorConfig
from rsu.inference.decoders.base import Decoder
from rsu.inference.decoders.registry import (META_LABELS, META_PREPROCESS, DecoderEntry, ModelInfo,
                                             default_registry, metadata_json)
from rsu.inference.labels import parse_names
from rsu.inference.nms import batched_nms
from rsu.inference.preprocess import InputSpec, Transform, prepare_batch
from rsu.inference.session import ModelError, OrtBackend, TensorInfo

__all__ = ["Backend", "Detector", "ModelError", "open_backend"]

log = logging.getLogger(__name__)


class Backend(Protocol):
    path: Path
    input: TensorInfo
    outputs: list[TensorInfo]
    metadata: dict[str, str]
    providers: list[str]

    @property
    def fixed_batch(self) -> int | None: ...

    def run(self, batch: np.ndarray) -> list[np.ndarray]: ...


def open_backend(path: Path, cfg: DetectorConfig, protection: Any = None) -> Backend:
    """ONNX Runtime for ``.onnx`` (plain or sealed, see ``models.protection``), LiteRT for ``.tflite``."""
    if path.suffix.lower() == ".tflite":
        from rsu.inference.tflite import LiteRtBackend

        return LiteRtBackend(path, threads=cfg.threads)
    return OrtBackend(path, cfg.providers, cfg.threads, cfg.allow_spinning, protection)


def _layout_and_size(shape: tuple[Any, ...], wanted: int | None, path: Path) -> tuple[str, tuple[int, int]]:
    if len(shape) != 4:
        raise ModelError(f"{path}: expected a 4-D image input, got shape {list(shape)}")
    layout = "NHWC" if shape[3] in (1, 3) and shape[1] not in (1, 3) else "NCHW"
    h, w = (shape[1], shape[2]) if layout == "NHWC" else (shape[2], shape[3])
    if isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0:
        if wanted is not None and (wanted, wanted) != (w, h):
            raise ModelError(f"{path}: input is fixed at {w}x{h}; models.detector.input_size {wanted} cannot apply")
        return layout, (w, h)
    return layout, (wanted or 640, wanted or 640)


class Detector:
    """Runs one detection model on batches of frames.

    Use :meth:`from_config`; ``detect(frames)`` returns one :class:`Detections` per frame, boxes in frame
    pixels, classes named by the model's label map.
    """

    def __init__(self, backend: Backend, entry: DecoderEntry, decoder: Decoder, spec: InputSpec,
                 class_names: tuple[str, ...], cfg: DetectorConfig) -> None:
        self.backend, self.entry, self.decoder, self.spec = backend, entry, decoder, spec
        self.class_names = class_names
        self.cfg = cfg
        self.batch = backend.fixed_batch or cfg.batch
        self._thresholds = np.full(len(class_names), cfg.conf_threshold, np.float32)
        for name, th in cfg.class_thresholds.items():
            if name not in class_names:
                raise ModelError(f"models.detector.class_thresholds: class {name!r} is not in the model's labels")
            self._thresholds[class_names.index(name)] = th
        if cfg.classes is not None:
            unknown = [c for c in cfg.classes if c not in class_names]
            if unknown:
                raise ModelError(f"models.detector.classes: not in the model's labels: {', '.join(unknown)}")
            self._thresholds[[i for i, n in enumerate(class_names) if n not in cfg.classes]] = np.inf
        self._min_threshold = float(self._thresholds[np.isfinite(self._thresholds)].min(initial=1.0))
        self.stats = {"frames": 0, "batches": 0, "infer_ms_total": 0.0}

    @classmethod
    def from_config(cls, cfg: DetectorConfig | None = None, model: str | Path | None = None,
                    protection: Any = None) -> Detector:
        """Open the model named by ``cfg.model`` (or ``model``): a file or a fetched asset name.

        Class names come from the ONNX metadata (``rsu.labels`` or ultralytics' ``names``), else from a
        ``<model stem>.labels.txt`` file beside the model (one name a line), else from the decoder family.
        """
        from rsu.assets.paths import resolve_model

        cfg = cfg or DetectorConfig()
        path = resolve_model(str(model) if model is not None else cfg.model)
        backend = open_backend(path, cfg, protection)
        layout, size = _layout_and_size(backend.input.shape, cfg.input_size, path)
        info = ModelInfo(input_shape=backend.input.shape, input_size=size, layout=layout,
                         output_shapes=tuple(tuple(o.shape) for o in backend.outputs), metadata=backend.metadata)
        try:
            entry = default_registry().choose(info, cfg.kind)
        except (KeyError, ValueError) as exc:
            raise ModelError(f"{path}: {exc.args[0]}") from None
        pre: dict[str, Any] = dict(entry.preprocess)
        pre.update(metadata_json(backend.metadata, META_PREPROCESS) or {})
        if cfg.resize != "auto":
            pre["resize"] = cfg.resize
        pre = {k: tuple(v) if isinstance(v, list) else v for k, v in pre.items()}
        spec = InputSpec(size=size, layout=layout, **pre)  # type: ignore[arg-type]
        sidecar = path.with_name(path.stem + ".labels.txt")
        names = (parse_names(backend.metadata.get(META_LABELS, "")) or parse_names(backend.metadata.get("names", ""))
                 or (tuple(sidecar.read_text(encoding="utf-8").splitlines()) if sidecar.is_file() else None)
                 or entry.class_names)
        if names is None:
            n = max((int(d) for o in backend.outputs for d in o.shape[1:] if isinstance(d, int)), default=1)
            names = tuple(f"class_{i}" for i in range(n))
        log.info("detector %s: decoder %s, input %s %s, %d classes, providers %s", path.name, entry.name,
                 size, spec.resize, len(names), ",".join(backend.providers))
        return cls(backend, entry, entry.build(info), spec, tuple(names), cfg)

    def detect(self, frames: Sequence[Frame]) -> list[Detections]:
        """Detect objects in each frame; runs ``batch`` frames per inference call."""
        out: list[Detections] = []
        for start in range(0, len(frames), self.batch):
            chunk = frames[start:start + self.batch]
            out.extend(self._detect_chunk(chunk))
        return out

    def detect_image(self, image: np.ndarray, source: str = "image", frame_id: int = 0,
                     t_event_ns: int | None = None) -> Detections:
        """Convenience for one BGR image (a uint8 ``(H, W, 3)`` image is used as is, not copied into a Frame)."""
        t = time.time_ns() if t_event_ns is None else t_event_ns
        if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3
                and image.shape[2] == 3):
            return self.detect([Frame(source=source, t_event_ns=t, frame_id=frame_id, image=image)])[0]
        meta = _Meta(source, t, frame_id, (int(image.shape[1]), int(image.shape[0])))
        batch, transforms = prepare_batch([image], self.spec)
        return self._postprocess(self._infer(batch, 1), [meta], transforms)[0]

    def detect_stream(self, frames: Iterable[Frame]) -> Iterator[Detections]:
        """Detect objects in a stream of frames, pipelined: while the model runs on one batch, a helper
        thread reads and pre-processes the next one and decodes the previous one (ONNX Runtime releases the
        GIL). Yields one :class:`Detections` per frame, in order, one batch behind the input."""
        source = iter(frames)

        def prepare() -> tuple[np.ndarray, list[Transform], list[_Meta]] | None:
            chunk = [f for _, f in zip(range(self.batch), source)]
            if not chunk:
                return None
            batch, transforms = prepare_batch([f.image for f in chunk], self.spec)
            return batch, transforms, [_Meta.of(f) for f in chunk]

        with ThreadPoolExecutor(1, thread_name_prefix="detector-pipe") as pool:
            prep: Future[Any] | None = pool.submit(prepare)
            post: Future[list[Detections]] | None = None
            while prep is not None:
                job = prep.result()
                if job is None:
                    break
                batch, transforms, metas = job
                prep = pool.submit(prepare)
                outputs = self._infer(batch, len(metas))
                if post is not None:
                    yield from post.result()
                post = pool.submit(self._postprocess, outputs, metas, transforms)
            if post is not None:
                yield from post.result()

    def _detect_chunk(self, frames: Sequence[Frame]) -> list[Detections]:
        batch, transforms = prepare_batch([f.image for f in frames], self.spec)
        return self._postprocess(self._infer(batch, len(frames)), [_Meta.of(f) for f in frames], transforms)

    def _infer(self, batch: np.ndarray, frames: int) -> list[np.ndarray]:
        t0 = time.perf_counter()
        outputs = self.backend.run(batch)
        self.stats["infer_ms_total"] += (time.perf_counter() - t0) * 1e3
        self.stats["frames"] += frames
        self.stats["batches"] += 1
        return outputs

    def _postprocess(self, outputs: list[np.ndarray], metas: Sequence[_Meta],
                     transforms: Sequence[Transform]) -> list[Detections]:
        """Decode, threshold per class, map boxes to image pixels and suppress, for each image of a batch."""
        result = []
        for i, (meta, tf) in enumerate(zip(metas, transforms)):
            raw = self.decoder.decode(outputs, i, self._min_threshold)
            cls = raw.class_ids.astype(np.int64)
            valid = (cls >= 0) & (cls < len(self.class_names))
            valid[valid] &= raw.scores[valid] >= self._thresholds[cls[valid]]
            boxes = tf.to_image(raw.xyxy[valid])
            scores, cls = raw.scores[valid], cls[valid]
            size_ok = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
            boxes, scores, cls = boxes[size_ok], scores[size_ok], cls[size_ok]
            keep = batched_nms(boxes, scores, cls, self.cfg.iou_threshold, self.cfg.max_detections)
            result.append(Detections(source=meta.source, t_event_ns=meta.t_event_ns, frame_id=meta.frame_id,
                                     xyxy=boxes[keep], confidence=np.clip(scores[keep], 0, 1),
                                     class_id=cls[keep].astype(np.int32), class_names=self.class_names,
                                     image_size=meta.size))
        return result


@dataclass(frozen=True, slots=True)
class _Meta:
    """What a :class:`Detections` needs from its frame (so a plain image needs no Frame copy)."""

    source: str
    t_event_ns: int
    frame_id: int
    size: tuple[int, int]

    @classmethod
    def of(cls, frame: Frame) -> _Meta:
        return cls(frame.source, frame.t_event_ns, frame.frame_id, frame.size)
