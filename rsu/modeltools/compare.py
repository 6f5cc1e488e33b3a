"""How far one detector's outputs moved from another's (INT8 vs FP32) on the same frames."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputComparison:
    """Per-anchor best-class score movement, and whether the reference's top boxes survive.

    ``top_kept`` is the fraction of the reference's ``top_k`` best boxes after NMS that the candidate model
    also reports (same class, IoU >= 0.5, score above the threshold).
    """

    frames: int
    score_max_abs_diff: float
    score_mean_abs_diff: float
    score_corr: float
    box_mean_abs_diff_px: float
    ref_detections: int
    new_detections: int
    top_k: int
    top_kept: float

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def model_info(session: Any, input_size: tuple[int, int] | None = None) -> Any:
    """The decoder registry's view of an ONNX Runtime session; ``input_size`` (w, h) is what it is fed when
    its input height and width are dynamic."""
    from rsu.inference.decoders.registry import ModelInfo

    shape = tuple(session.get_inputs()[0].shape)
    meta = dict(session.get_modelmeta().custom_metadata_map or {})
    fixed = isinstance(shape[3], int) and isinstance(shape[2], int)
    size = (int(shape[3]), int(shape[2])) if fixed or input_size is None else input_size
    return ModelInfo(input_shape=shape, input_size=size, layout="NCHW",
                     output_shapes=tuple(tuple(o.shape) for o in session.get_outputs()), metadata=meta)


def decoder_for(session: Any, kind: str = "auto", input_size: tuple[int, int] | None = None) -> Any:
    """The registered decoder for a session's outputs (``auto``: by metadata or output shapes)."""
    from rsu.inference.decoders.registry import default_registry

    info = model_info(session, input_size)
    return default_registry().choose(info, kind).build(info)


def _session(path: str | Path) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def _final(raw: Any, conf: float, iou: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from rsu.inference.nms import batched_nms

    keep = raw.scores > conf
    xyxy, scores, cls = raw.xyxy[keep], raw.scores[keep], raw.class_ids[keep]
    idx = batched_nms(xyxy, scores, cls, iou)
    return xyxy[idx], scores[idx], cls[idx]


def compare_models(ref: str | Path, new: str | Path, batches: Sequence[np.ndarray], *, conf: float = 0.25,
                   iou: float = 0.45, top_k: int = 10) -> OutputComparison:
    """Run both models on ``batches`` and measure how far ``new``'s decoded outputs moved from ``ref``'s."""
    from rsu.inference.nms import box_iou

    s_ref, s_new = _session(ref), _session(new)
    dec = decoder_for(s_ref, input_size=(int(batches[0].shape[3]), int(batches[0].shape[2])) if batches else None)
    name = s_ref.get_inputs()[0].name
    diffs, boxes, ref_all, new_all = [], [], [], []
    n_ref = n_new = considered = kept = 0
    for batch in batches:
        raw_r = dec.decode(s_ref.run(None, {name: batch}), 0, -1.0)  # every anchor, aligned
        raw_n = dec.decode(s_new.run(None, {s_new.get_inputs()[0].name: batch}), 0, -1.0)
        diffs.append(np.abs(raw_r.scores - raw_n.scores))
        boxes.append(np.abs(raw_r.xyxy - raw_n.xyxy).mean(axis=1))
        ref_all.append(raw_r.scores)
        new_all.append(raw_n.scores)
        br, sr, cr = _final(raw_r, conf, iou)
        bn, _, cn = _final(raw_n, conf, iou)
        n_ref, n_new = n_ref + len(sr), n_new + len(cn)
        top = slice(0, min(top_k, len(sr)))
        if len(bn) and top.stop:
            match = (box_iou(br[top], bn) >= 0.5) & (cr[top][:, None] == cn[None, :])
            kept += int(match.any(axis=1).sum())
        considered += top.stop
    d = np.concatenate(diffs)
    r, n = np.concatenate(ref_all), np.concatenate(new_all)
    corr = float(np.corrcoef(r, n)[0, 1]) if r.std() > 0 and n.std() > 0 else float("nan")
    return OutputComparison(
        frames=len(batches), score_max_abs_diff=round(float(d.max()), 5), score_mean_abs_diff=round(float(d.mean()), 6),
        score_corr=round(corr, 4), box_mean_abs_diff_px=round(float(np.concatenate(boxes).mean()), 3),
        ref_detections=n_ref, new_detections=n_new, top_k=top_k,
        top_kept=round(kept / considered, 4) if considered else float("nan"),
    )
