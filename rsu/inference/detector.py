"""The camera detector: frames in, :class:`rsu_sdk.Detections` out (batching, decoding, NMS, class names)."""

from __future__ import annotations

import ast
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
from rsu.inference.preprocess import InputSpec, Transform, input_shape, prepare_batch
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


def _layout_and_size(shape: tuple[Any, ...], wanted: int | None, path: Path,
                     metadata: dict[str, str]) -> tuple[str, tuple[int, int], bool]:
    """``(layout, (width, height), dynamic)``; a dynamic input's side is ``wanted``, else the metadata's
    ``imgsz`` (ultralytics exports), else 640."""
    if len(shape) != 4:
        raise ModelError(f"{path}: expected a 4-D image input, got shape {list(shape)}")
    layout = "NHWC" if shape[3] in (1, 3) and shape[1] not in (1, 3) else "NCHW"
    h, w = (shape[1], shape[2]) if layout == "NHWC" else (shape[2], shape[3])
    if isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0:
        if wanted is not None and (wanted, wanted) != (w, h):
            raise ModelError(f"{path}: input is fixed at {w}x{h}; models.detector.input_size {wanted} cannot apply")
        return layout, (w, h), False
    side = wanted or _meta_int(metadata, "imgsz") or 640
    return layout, (side, side), True


def _meta_int(metadata: dict[str, str], key: str) -> int | None:
    """An int (or the largest of a list of ints, as ultralytics writes ``imgsz``) from a metadata value."""
    try:
        value = ast.literal_eval(metadata.get(key, "None"))
    except (ValueError, SyntaxError):
        return None
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, int) for v in value):
        value = max(value)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


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

        ``models.detector.resize: auto`` letterboxes a model whose input height and width are dynamic to the
        smallest stride-aligned rectangle (``rect``, long side = the input size; stride from the metadata's
        ``stride``, else 32), as ultralytics does; ``letterbox`` forces the square.

        Class names come from the ONNX metadata (``rsu.labels`` or ultralytics' ``names``), else from a
        ``<model stem>.labels.txt`` file beside the model (one name a line), else from the decoder family.
        """
        from rsu.assets.paths import resolve_model

        cfg = cfg or DetectorConfig()
        path = resolve_model(str(model) if model is not None else cfg.model)
        backend = open_backend(path, cfg, protection)
        layout, size, dynamic = _layout_and_size(backend.input.shape, cfg.input_size, path, backend.metadata)
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
        elif dynamic and pre.get("resize", "letterbox") == "letterbox":  # pad only to the stride (ultralytics' rect)
            pre["resize"] = "rect"
            pre["stride"] = _meta_int(backend.metadata, "stride") or 32
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
        """Detect objects in each frame; runs ``batch`` frames per inference call (with ``rect``, frames whose
        inputs differ in shape run in separate calls)."""
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

        def prepare() -> tuple[list[_Job], list[_Meta]] | None:
            chunk = [f for _, f in zip(range(self.batch), source)]
            return (self._prepare([f.image for f in chunk]), [_Meta.of(f) for f in chunk]) if chunk else None

        with ThreadPoolExecutor(1, thread_name_prefix="detector-pipe") as pool:
            prep: Future[Any] | None = pool.submit(prepare)
            post: Future[list[Detections]] | None = None
            while prep is not None:
                job = prep.result()
                if job is None:
                    break
                jobs, metas = job
                prep = pool.submit(prepare)
                outputs = [self._infer(j.batch, len(j.indices)) for j in jobs]
                if post is not None:
                    yield from post.result()
                post = pool.submit(self._post_jobs, jobs, outputs, metas)
            if post is not None:
                yield from post.result()

    def _prepare(self, images: Sequence[np.ndarray]) -> list[_Job]:
        """One batch per input shape (one batch unless ``rect`` meets images of different aspects)."""
        if self.spec.resize != "rect":
            return [_Job(*prepare_batch(images, self.spec), list(range(len(images))))]
        groups: dict[tuple[int, int], list[int]] = {}
        for i, img in enumerate(images):
            groups.setdefault(input_shape((int(img.shape[1]), int(img.shape[0])), self.spec), []).append(i)
        return [_Job(*prepare_batch([images[i] for i in idx], self.spec), idx) for idx in groups.values()]

    def _post_jobs(self, jobs: Sequence[_Job], outputs: Sequence[list[np.ndarray]],
                   metas: Sequence[_Meta]) -> list[Detections]:
        """Decode every job's outputs; the Detections in the frames' order."""
        result: list[Detections | None] = [None] * len(metas)
        for job, out in zip(jobs, outputs, strict=True):
            for i, det in zip(job.indices, self._postprocess(out, [metas[i] for i in job.indices], job.transforms)):
                result[i] = det
        return [d for d in result if d is not None]

    def _detect_chunk(self, frames: Sequence[Frame]) -> list[Detections]:
        jobs = self._prepare([f.image for f in frames])
        outputs = [self._infer(j.batch, len(j.indices)) for j in jobs]
        return self._post_jobs(jobs, outputs, [_Meta.of(f) for f in frames])

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


@dataclass(frozen=True, slots=True)
class _Job:
    """One model call's input: the batch, its images' transforms, and their indices among the frames."""

    batch: np.ndarray
    transforms: list[Transform]
    indices: list[int]
