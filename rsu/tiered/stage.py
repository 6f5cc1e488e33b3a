"""The tiered detector stage: the local detector first; hard frames go to the edge server within a deadline.

Order per frame: local detection -> policy (is it hard?) -> privacy blur of the frame from the local boxes
(nothing leaves the box unblurred) -> JPEG -> request -> the server's detections, or, when the answer is late,
missing or bad, the local result (counted by cause). The deadline bounds the whole offload (blur, encode,
round trip), so a frame never takes more than ``local + deadline``; after ``backoff.after_failures`` failures
in a row the stage answers locally for ``backoff.seconds`` (counted ``backoff``) instead of paying the deadline
on every frame while the server is down.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import numpy as np
from rsu_sdk import Detections, Frame, Product

from rsu.config.models import PrivacyConfig
from rsu.config.tiered import TieredConfig
from rsu.privacy.blur import Redactor
from rsu.tiered.client import OffloadClient
from rsu.tiered.policy import OffloadPolicy
from rsu.tiered.protocol import encode_jpeg

__all__ = ["TieredDetectorStage"]


class TieredDetectorStage:
    """Wraps the detector stage (``name``, ``handles``, ``process``, ``stats``) with offloading."""

    def __init__(self, inner: Any, cfg: TieredConfig, privacy: PrivacyConfig | None = None,
                 client: OffloadClient | None = None) -> None:
        self.stage = inner  # the wrapped detector stage (``.stage``, as other stage wrappers)
        self.name = inner.name
        self.handles: tuple[type, ...] = inner.handles
        self.cfg = cfg
        self.policy = OffloadPolicy(cfg.offload)
        self.redactor = Redactor(privacy or PrivacyConfig())
        self.client = client or OffloadClient(cfg.endpoint, curve=cfg.curve)
        self.counts: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self._failures_in_row = 0
        self._backoff_until = 0.0

    def process(self, product: Product) -> list[Product]:
        results = self.stage.process(product)
        if not isinstance(product, Frame) or len(results) != 1 or not isinstance(results[0], Detections):
            return results
        local: Detections = results[0]
        reason = self.policy.reason(local)
        if reason is None:
            self.counts["local"] += 1
            return results
        self.reasons[reason.split(":", 1)[0]] += 1
        now = time.perf_counter()
        if now < self._backoff_until:
            self.counts["backoff"] += 1
            self.counts["fallback"] += 1
            return results
        remote = self._offload(product, local, now + self.cfg.deadline_ms / 1e3)
        if remote is None:
            self.counts["fallback"] += 1
            self._failures_in_row += 1
            if self._failures_in_row >= self.cfg.backoff.after_failures and self.cfg.backoff.seconds > 0:
                self._backoff_until = time.perf_counter() + self.cfg.backoff.seconds
                self._failures_in_row = 0
            return results
        self._failures_in_row = 0
        self.counts["remote"] += 1
        return [remote]

    def _offload(self, frame: Frame, local: Detections, deadline_s: float) -> Detections | None:
        image = self.redactor.redact_image(frame.image, local)  # blur first: only a blurred frame leaves
        jpeg, scale = encode_jpeg(image, self.cfg.jpeg_quality, self.cfg.max_side)
        header = {"source": frame.source, "frame_id": frame.frame_id, "t_event_ns": frame.t_event_ns,
                  "size": list(frame.size), "scale": scale}
        reply = self.client.infer(header, jpeg, deadline_s)
        if reply is None:
            return None
        w, h = frame.size
        xyxy = reply.xyxy / np.float32(scale) if scale != 1.0 else reply.xyxy
        xyxy = np.clip(xyxy, 0, [w, h, w, h]).astype(np.float32)
        return Detections(source=frame.source, t_event_ns=frame.t_event_ns, frame_id=frame.frame_id, xyxy=xyxy,
                          confidence=np.clip(reply.confidence, 0, 1), class_id=reply.class_id,
                          class_names=reply.class_names, image_size=frame.size)

    def stats(self) -> dict[str, Any]:
        c = self.client.counts
        return {**self.stage.stats(), "tiered": {
            **dict(self.counts), "reasons": dict(self.reasons), "deadline_ms": self.cfg.deadline_ms,
            "client": {k: c[k] for k in ("sent", "answered", "timeout", "send_failed", "server_error", "bad_reply",
                                         "late")},
            "round_trip": self.client.rtt_percentiles()}}

    def open(self) -> None:
        self.stage.open()

    def finish(self, end_of_input: bool) -> list[Product]:
        return self.stage.finish(end_of_input)

    def close(self) -> None:
        self.client.close()
