"""Pick up new global model versions on a running box: poll the aggregator, hand each new version to a
callback (e.g. :meth:`rsu.inference.fault_predictor.FaultPredictor.reload`), which swaps the ONNX Runtime
session in place. No restart; a version that fails to load leaves the old one running (counted)."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from rsu.federated.client import FederatedClient, FederationError

__all__ = ["ModelWatcher"]

log = logging.getLogger(__name__)


class ModelWatcher:
    """Polls ``client`` for ``model`` every ``poll_s``; calls ``on_model(onnx_bytes, version)`` for each newer one.

    :param have: the version the box runs now (-1: take whatever the aggregator has).
    """

    def __init__(self, client: FederatedClient, model: str, on_model: Callable[[bytes, int], None], *,
                 poll_s: float = 10.0, have: int = -1) -> None:
        self.client = client
        self.model = model
        self.on_model = on_model
        self.poll_s = poll_s
        self.version = have
        self.counts: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check_once(self) -> int | None:
        """Fetch and apply a newer version if there is one; returns it, or None."""
        try:
            info, data = self.client.latest(self.model, self.version)
        except FederationError as exc:
            self.counts["poll_errors"] += 1
            log.warning("model %s: %s", self.model, exc)
            return None
        self.counts["polls"] += 1
        version = int(info["version"])
        if data is None or version <= self.version:
            return None
        try:
            self.on_model(data, version)
        except Exception as exc:  # a bad version must not stop the box: the old model keeps running
            self.counts["load_errors"] += 1
            log.error("model %s version %d not loaded, keeping version %d: %s", self.model, version, self.version, exc)
            return None
        self.counts["swaps"] += 1
        log.info("model %s: now running global version %d (was %d)", self.model, version, self.version)
        self.version = version
        return version

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            self.check_once()

    def start(self) -> ModelWatcher:
        self._thread = threading.Thread(target=self._loop, name=f"model-watch-{self.model}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None
        self.client.close()

    def stats(self) -> dict[str, Any]:
        return {"model": self.model, "version": self.version, **dict(self.counts)}
