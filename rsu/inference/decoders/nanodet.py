"""NanoDet (GFL head) decoding: per stride a class-score tensor ``(B, N, C)`` (already sigmoid) and a
distance-distribution tensor ``(B, N, 4 * (reg_max + 1))``; boxes are the softmax expectation of each side's
distance (in strides) from the cell centre."""

from __future__ import annotations

import numpy as np

from rsu.inference.decoders.base import RawDetections

__all__ = ["NanoDetDecoder"]


class NanoDetDecoder:
    """Decodes NanoDet outputs; output pairs are matched by their number of cells."""

    name = "nanodet"

    def __init__(self, input_size: tuple[int, int], strides: tuple[int, ...] = (8, 16, 32), reg_max: int = 10,
                 num_classes: int = 80) -> None:
        self.input_size = input_size
        self.strides = strides
        self.reg_max = reg_max
        self.num_classes = num_classes
        w, h = input_size
        self._centers: dict[int, tuple[np.ndarray, int]] = {}
        for s in strides:
            fw, fh = -(-w // s), -(-h // s)
            yy, xx = np.mgrid[0:fh, 0:fw]
            c = np.stack([(xx.ravel() + 0.5) * s, (yy.ravel() + 0.5) * s], 1).astype(np.float32)
            self._centers[c.shape[0]] = (c, s)

    def _pairs(self, outputs: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, int]]:
        bins = 4 * (self.reg_max + 1)
        cls = {o.shape[1]: o for o in outputs if o.ndim == 3 and o.shape[-1] == self.num_classes}
        reg = {o.shape[1]: o for o in outputs if o.ndim == 3 and o.shape[-1] == bins}
        pairs = []
        for n, (centers, stride) in self._centers.items():
            if n not in cls or n not in reg:
                raise ValueError(f"NanoDet decoder: no ({n}, {self.num_classes}) / ({n}, {bins}) outputs for stride "
                                 f"{stride}; got {[o.shape for o in outputs]}")
            pairs.append((cls[n], reg[n], centers, stride))
        return pairs

    def decode(self, outputs: list[np.ndarray], index: int, conf_threshold: float) -> RawDetections:
        boxes, scores, classes = [], [], []
        for cls_out, reg_out, centers, stride in self._pairs(outputs):
            sc = np.asarray(cls_out[index], np.float32)
            cid = sc.argmax(1)
            best = sc[np.arange(cid.size), cid]
            keep = np.flatnonzero(best > conf_threshold)
            if keep.size == 0:
                continue
            dist = np.asarray(reg_out[index][keep], np.float32).reshape(-1, 4, self.reg_max + 1)
            e = np.exp(dist - dist.max(-1, keepdims=True))
            d = (e / e.sum(-1, keepdims=True)) @ np.arange(self.reg_max + 1, dtype=np.float32) * stride
            c = centers[keep]
            boxes.append(np.stack([c[:, 0] - d[:, 0], c[:, 1] - d[:, 1], c[:, 0] + d[:, 2], c[:, 1] + d[:, 3]], 1))
            scores.append(best[keep])
            classes.append(cid[keep])
        if not boxes:
            return RawDetections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32))
        return RawDetections(np.concatenate(boxes).astype(np.float32), np.concatenate(scores).astype(np.float32),
                             np.concatenate(classes).astype(np.int32))
