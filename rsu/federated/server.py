"""``rsu federate serve``: the aggregator. Boxes send updates and ask for the latest version over a ROUTER
socket; updates go through the :class:`~rsu.federated.operator.FedAvgOperator` on the embedded runner (in
process) or the Flink runner (a PyFlink job, the same operator); each new global version lands in the store.

Checks before an update enters the aggregation (the box gets the reason in its ``rejected`` reply): the model
is the store's, the weights decode (``.npz``, no pickles) and have exactly the template's names and shapes,
finite values, a positive sample count, and a base version the store has made.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zmq

from rsu.federated.messages import GlobalModel, MessageError, ModelUpdate, decode_weights
from rsu.federated.operator import FedAvgOperator
from rsu.federated.store import ModelStore
from rsu.federated.wire import WireError, pack, unpack

__all__ = ["AggregatorServer"]

log = logging.getLogger(__name__)


class AggregatorServer:
    """Aggregates updates for ``store.model`` at ``bind``.

    :param runner: ``embedded`` or ``flink`` (then ``pipeline_cfg`` is the ``pipeline`` config section).
    """

    def __init__(self, store: ModelStore, bind: str, *, min_updates: int = 3, max_staleness: int = 0,
                 runner: str = "embedded", pipeline_cfg: Any = None, checkpoint_dir: Path | None = None,
                 context: zmq.Context | None = None) -> None:
        self.store = store
        op = FedAvgOperator(min_updates=min_updates, max_staleness=max_staleness,
                            start_versions={store.model: store.latest_version() or 0})
        self.operator = op
        self.runner_name = runner
        if runner == "embedded":
            from rsu.pipeline.embedded import EmbeddedRunner

            self.runner: Any = EmbeddedRunner([op])
        elif runner == "flink":
            from rsu.pipeline.flink.runner import FlinkRunner

            if pipeline_cfg is None:
                from rsu.config.pipeline import PipelineConfig

                pipeline_cfg = PipelineConfig()
            self.runner = FlinkRunner([op], pipeline_cfg, self._on_output, checkpoint_dir=checkpoint_dir,
                                      name="rsu-federated")
        else:
            raise ValueError(f"runner: expected embedded or flink, got {runner!r}")
        self.runner.open()
        self._ctx = context or zmq.Context.instance()
        self._sock = self._ctx.socket(zmq.ROUTER)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.bind(bind)
        self.endpoint = self._sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.counts: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ outputs
    def _on_output(self, product: Any) -> None:
        if isinstance(product, GlobalModel):
            try:
                stored = self.store.publish(product)
            except (OSError, ValueError) as exc:
                self.counts["store_errors"] += 1
                log.error("cannot store %s version %d: %s", product.model, product.version, exc)
                return
            self.counts["versions"] += 1
            log.info("global %s version %d from %s (%d samples)", product.model, stored.version,
                     ", ".join(product.contributors), product.samples)

    # ------------------------------------------------------------------ requests
    def _update(self, doc: dict[str, Any], body: list[bytes]) -> dict[str, Any]:
        latest = self.store.latest_version() or 0
        if doc.get("model") != self.store.model:
            raise MessageError(f"model {doc.get('model')!r} is not aggregated here (this is {self.store.model!r})")
        if len(body) != 1:
            raise MessageError("update: expected one weights frame")
        weights = decode_weights(body[0])
        expected = {k: v.shape for k, v in self.store.template_weights.items()}
        got = {k: v.shape for k, v in weights.items()}
        if got != expected:
            raise MessageError(f"weights {got} do not match the model's {expected}")
        base = int(doc.get("base_version", -1))
        if not 0 <= base <= latest:
            raise MessageError(f"base_version {base} is not a version this aggregator made (latest {latest})")
        update = ModelUpdate(source=str(doc.get("box", "")), t_event_ns=time.time_ns(), model=self.store.model,
                             base_version=base, samples=int(doc.get("samples", 0)), weights=weights,
                             metrics=dict(doc.get("metrics") or {}))
        for product in self.runner.process(update):
            self._on_output(product)
        self.counts["updates"] += 1
        return {"status": "accepted", "version": self.store.latest_version()}

    def handle(self, frames: list[bytes]) -> None:
        peer, rest = frames[0], frames[1:]
        self.counts["requests"] += 1
        try:
            doc, body = unpack(rest)
        except WireError as exc:
            self.counts["bad_requests"] += 1
            log.warning("bad request: %s", exc)
            return
        reply: dict[str, Any] = {"id": doc["id"]}
        payload: list[bytes] = []
        try:
            if doc.get("op") == "update":
                reply.update(self._update(doc, body))
            elif doc.get("op") == "latest":
                current = self.store.get()
                reply.update(status="ok", version=current.version, sha256=current.info["sha256"],
                             contributors=current.info.get("contributors", []), samples=current.info.get("samples"))
                if current.version > int(doc.get("have", -1)):
                    payload.append(current.read_bytes())
            else:
                raise MessageError(f"unknown op {doc.get('op')!r} (expected update or latest)")
        except (MessageError, ValueError, TypeError) as exc:
            self.counts["rejected"] += 1
            reply.update(status="rejected", error=str(exc)[:300], version=self.store.latest_version())
            log.warning("request %s from %s rejected: %s", doc.get("op"), doc.get("box", "?"), exc)
        try:
            self._sock.send_multipart([peer, *pack(reply, *payload)], flags=zmq.NOBLOCK)
        except zmq.ZMQError:
            self.counts["reply_failed"] += 1

    def serve(self, should_stop: Callable[[], bool] | None = None, poll_ms: int = 100) -> None:
        stop = should_stop or (lambda: False)
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        while not (self._stop.is_set() or stop()):
            if poller.poll(poll_ms):
                while True:
                    try:
                        frames = self._sock.recv_multipart(flags=zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    self.handle(frames)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> AggregatorServer:
        self._thread = threading.Thread(target=self.serve, name="fed-aggregator", daemon=True)
        self._thread.start()
        return self

    def close(self, timeout: float = 60.0) -> None:
        """Stop serving, end the runner's input (a Flink job finishes and delivers what it made), close."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None
        if self.runner_name == "flink":
            self.runner.finish(end_of_input=True, timeout=timeout)
        else:
            for product in self.runner.finish(end_of_input=True):
                self._on_output(product)
        self._sock.close(0)

    def stats(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "runner": self.runner_name, "model": self.store.model,
                "latest_version": self.store.latest_version(), **dict(self.counts),
                "operator": self.operator.stats() if self.runner_name == "embedded" else None}
