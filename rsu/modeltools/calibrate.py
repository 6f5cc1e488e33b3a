"""Data-dependent touch-ups of torch detectors: BatchNorm statistics from real frames, and a "synthetic"
stand-in for trained weights.

- :func:`recalibrate_bn` re-estimates every BatchNorm's running mean/variance on real frames. After pruning
  a trained model this is the usual cheap step before fine-tuning.
- :func:`make_synthetic` turns a freshly built random-weight detector (no trained weights can be had here)
  into one whose outputs depend on the image: with the default BatchNorm statistics (mean 0, var 1) the
  signal of a random YOLOv5s dies out before the head and every image gives the same output, which would
  make INT8-vs-FP32 comparisons and NMS timings meaningless. It recalibrates BatchNorm and sets the class
  biases so that a realistic number of candidates passes the usual 0.25 threshold. It is NOT a trained
  detector: the boxes mean nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from rsu.modeltools.env import require, torch_threads


@torch_threads
def recalibrate_bn(net: Any, batches: Sequence[np.ndarray]) -> None:
    """Replace each BatchNorm's running statistics with their average over ``batches`` (NCHW float32)."""
    torch = require("torch")
    bns = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average over the calibration batches
    was_training = net.training
    net.train()
    with torch.no_grad():
        for batch in batches:
            net(torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)))
    for m, momentum in zip(bns, saved):
        m.momentum = momentum
    net.train(was_training)
    net.eval()


def _class_convs(net: Any) -> list[Any]:
    head = net.model[-1]
    cv3 = getattr(head, "cv3", None)
    if cv3 is None:
        raise ValueError("expected an ultralytics anchor-free Detect head (with cv3 class branches)")
    return [branch[-1] for branch in cv3]


@torch_threads
def make_synthetic(
    net: Any, batches: Sequence[np.ndarray], *, candidates: int = 60, logit_std: float = 2.0, seed: int = 0
) -> None:
    """Make a random-weight ultralytics detector input-dependent, with about ``candidates`` anchors per frame
    whose best class score exceeds 0.25 (see the module docstring)."""
    torch = require("torch")
    torch.manual_seed(seed)
    recalibrate_bn(net, batches)
    convs = _class_convs(net)
    for conv in convs:  # widen the class logits so scores spread instead of sitting on the bias
        torch.nn.init.normal_(conv.weight, std=logit_std / math.sqrt(conv.weight.shape[1]))
        torch.nn.init.zeros_(conv.bias)
    logits: list[np.ndarray] = []
    hooks = [c.register_forward_hook(lambda _m, _i, out: logits.append(out.amax(1).flatten().numpy())) for c in convs]
    try:
        with torch.no_grad():
            for batch in batches:
                net(torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)))
    finally:
        for h in hooks:
            h.remove()
    per_anchor = np.concatenate(logits)
    total = per_anchor.size / len(batches)
    q = 1.0 - min(candidates / total, 1.0)
    shift = math.log(0.25 / 0.75) - float(np.quantile(per_anchor, q))
    for conv in convs:
        torch.nn.init.constant_(conv.bias, shift)
