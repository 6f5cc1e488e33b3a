"""``rsu federate serve``: the aggregator. Boxes send updates and ask for the latest version over a ROUTER
socket; updates go through the :class:`~rsu.federated.operator.FedAvgOperator` on the embedded runner (in
process) or the Flink runner (a PyFlink job, the same operator); each new global version lands in the store.

Checks before an update enters the aggregation (:mod:`rsu.federated.admission`; the box gets the reason in its
``rejected`` reply, the server counts it as ``rejected_<reason>``): the header's fields and ranges, the weights'
archive from its headers before decompressing, finite values within ``max_distance`` of the current model.

Security (docs/security.md): with ``curve`` (keys from ``rsu keys generate``) only clients whose public key is in
``authorized_keys/`` complete the handshake, and an update counts under its key's name, whatever box id it
claims; a ``bind`` beyond loopback without ``curve`` is refused before anything is bound. Messages larger than
``max_update_bytes`` (plus headroom) make ZeroMQ drop the sender's connection.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import zmq

from rsu.core.netsec import insecure_bind_problem
from rsu.federated.admission import AdmissionPolicy, admit
from rsu.federated.messages import GlobalModel, MessageError
from rsu.federated.operator import FedAvgOperator
from rsu.federated.store import ModelStore
from rsu.federated.wire import WireError, pack, unpack

__all__ = ["AggregatorServer", "InsecureBindError"]

log = logging.getLogger(__name__)


def _read_current(store: ModelStore) -> dict[str, np.ndarray]:
    from rsu.federated.weights import read_weights

    return read_weights(store.get().path)


class InsecureBindError(ValueError):
    """A bind beyond loopback without CURVE keys."""


class AggregatorServer:
    """Aggregates updates for ``store.model`` at ``bind``.

    :param runner: ``embedded`` or ``flink`` (then ``pipeline_cfg`` is the ``pipeline`` config section).
    :param curve: a ``CurveConfig`` (``server_secret_key``, ``authorized_keys``), or None (loopback only).
    :raises InsecureBindError: ``bind`` is beyond loopback and ``curve`` is None (nothing is bound).
    """

    def __init__(self, store: ModelStore, bind: str, *, min_updates: int = 3, max_staleness: int = 0,
                 runner: str = "embedded", pipeline_cfg: Any = None, checkpoint_dir: Path | None = None,
                 context: zmq.Context | None = None, policy: AdmissionPolicy = AdmissionPolicy(),
                 curve: Any = None) -> None:
        problem = insecure_bind_problem(bind, curve, "federated.aggregator.curve")
        if problem:
            raise InsecureBindError(f"federated.aggregator: {problem}")
        self.store = store
        self.policy = policy
        self._current = dict(store.template_weights) if store.latest_version() in (None, 0) \
            else _read_current(store)
        op = FedAvgOperator(min_updates=min_updates, max_staleness=max_staleness,
                            start_versions={store.model: store.latest_version() or 0},
                            method=policy.aggregate, trim=policy.trim)
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
        self.counts: Counter[str] = Counter()
        self.max_distance_seen = 0.0  # of admitted updates: to choose max_distance from real rounds
        self._own_ctx = curve is not None and context is None  # a ZAP handler must not cover other sockets
        self._ctx = zmq.Context() if self._own_ctx else (context or zmq.Context.instance())
        self._sock = self._ctx.socket(zmq.ROUTER)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.MAXMSGSIZE, policy.max_update_bytes + 64 * 1024)
        self._auth: Any = None
        self._names: dict[str, str] = {}
        try:
            if curve is not None:
                from rsu.publish.curve import authorized_names, serve_curve

                self._auth = serve_curve(self._ctx, self._sock, curve, "federated.aggregator.curve")
                self._names = authorized_names(Path(curve.authorized_keys))
            self._sock.bind(bind)
        except Exception:
            self._close_socket()
            raise
        self.endpoint = self._sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.curve = curve is not None
        self.runner.open()
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
            self._current = {k: np.asarray(v, dtype=np.float32) for k, v in product.weights.items()}
            log.info("global %s version %d from %s (%d samples)", product.model, stored.version,
                     ", ".join(product.contributors), product.samples)

    # ------------------------------------------------------------------ requests
    def _update(self, doc: dict[str, Any], body: list[bytes], user: str | None) -> dict[str, Any]:
        box = None
        if user is not None:  # authenticated: the key decides who this is, not the claimed box id
            box = self._names.get(user, "key:" + user[:12])
        update, distance = admit(doc, body, model=self.store.model, latest=self.store.latest_version() or 0,
                                 current=self._current, policy=self.policy, box=box)
        self.max_distance_seen = max(self.max_distance_seen, round(distance, 4))
        for product in self.runner.process(update):
            self._on_output(product)
        self.counts["updates"] += 1
        return {"status": "accepted", "version": self.store.latest_version()}

    def handle(self, frames: list[Any]) -> None:
        """Answer one request (frames as received, bytes or ``zmq.Frame``); never raises."""
        try:
            self._handle(frames)
        except Exception as exc:  # noqa: BLE001 - a bad message is counted and skipped, the server goes on
            self.counts["handler_errors"] += 1
            log.error("request not handled: %s: %s", type(exc).__name__, exc)

    def _handle(self, frames: list[Any]) -> None:
        user = None
        if frames and isinstance(frames[-1], zmq.Frame) and self.curve:
            user = frames[-1].get("User-Id") or None
        frames = [f.bytes if isinstance(f, zmq.Frame) else f for f in frames]
        peer, rest = frames[0], frames[1:]
        self.counts["requests"] += 1
        try:
            doc, body = unpack(rest)
        except (WireError, RecursionError) as exc:
            self.counts["bad_requests"] += 1
            log.warning("bad request: %s", str(exc)[:200])
            return
        reply: dict[str, Any] = {"id": doc["id"]}
        payload: list[bytes] = []
        try:
            if doc.get("op") == "update":
                reply.update(self._update(doc, body, user))
            elif doc.get("op") == "latest":
                current = self.store.get()
                reply.update(status="ok", version=current.version, sha256=current.info["sha256"],
                             contributors=current.info.get("contributors", []), samples=current.info.get("samples"))
                have = doc.get("have", -1)
                if isinstance(have, bool) or not isinstance(have, int):
                    raise MessageError("latest: 'have' must be an integer", "bad_field")
                if current.version > have:
                    payload.append(current.read_bytes())
            else:
                raise MessageError(f"unknown op {str(doc.get('op'))[:32]!r} (expected update or latest)", "bad_op")
        except (MessageError, ValueError, TypeError, OverflowError) as exc:
            reason = getattr(exc, "reason", "invalid")
            self.counts["rejected"] += 1
            self.counts[f"rejected_{reason}"] += 1
            reply.update(status="rejected", error=str(exc)[:300], version=self.store.latest_version())
            log.warning("request %s from %s rejected (%s): %s", str(doc.get("op"))[:32], str(doc.get("box", "?"))[:64],
                        reason, str(exc)[:300])
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
                        frames = self._sock.recv_multipart(flags=zmq.NOBLOCK, copy=not self.curve)
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
        self._close_socket()

    def _close_socket(self) -> None:
        self._sock.close(0)
        if self._auth is not None:
            self._auth.stop()
            self._auth = None
        if self._own_ctx:
            self._ctx.term()

    def stats(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "runner": self.runner_name, "model": self.store.model, "curve": self.curve,
                "latest_version": self.store.latest_version(), **dict(self.counts),
                "max_distance_seen": self.max_distance_seen,
                "operator": self.operator.stats() if self.runner_name == "embedded" else None}
