"""The box side of federation: send an update, fetch the latest global version (DEALER, bounded waits)."""

from __future__ import annotations

import hashlib
import itertools
import time
from typing import Any

import zmq

from rsu.federated.messages import ModelUpdate, encode_weights
from rsu.federated.wire import WireError, pack, unpack

__all__ = ["FederatedClient", "FederationError"]


class FederationError(RuntimeError):
    """The aggregator did not answer in time, rejected the request, or answered something unusable."""


class FederatedClient:
    """Talks to the aggregator at ``endpoint``; every call waits at most ``timeout_s``.

    :param curve: ``server_key`` (the aggregator's public key file) and ``client_key`` (this box's secret key
        file), e.g. a ``ClientCurveConfig``; needed when the aggregator runs CURVE (it answers nothing otherwise).
    """

    def __init__(self, endpoint: str, *, timeout_s: float = 5.0, context: zmq.Context | None = None,
                 curve: Any = None) -> None:
        self.endpoint = endpoint
        self.timeout_s = timeout_s
        self._sock = (context or zmq.Context.instance()).socket(zmq.DEALER)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.MAXMSGSIZE, 256 * 1024 * 1024)  # a model, not an endless stream
        if curve is not None:
            from rsu.publish.curve import connect_curve

            try:
                connect_curve(self._sock, curve, "federated.client.curve")
            except Exception:
                self._sock.close(0)
                raise
        self._sock.connect(endpoint)
        self._ids = itertools.count(1)

    def _call(self, doc: dict[str, Any], *body: bytes) -> tuple[dict[str, Any], list[bytes]]:
        req_id = next(self._ids)
        end = time.monotonic() + self.timeout_s
        try:  # no connected aggregator (down, or a CURVE handshake refused): wait at most timeout_s
            if not self._sock.poll(int(self.timeout_s * 1000) + 1, zmq.POLLOUT):
                raise zmq.Again()
            self._sock.send_multipart(pack({**doc, "id": req_id}, *body), flags=zmq.NOBLOCK)
        except zmq.Again:
            raise FederationError(f"aggregator {self.endpoint}: no answer to {doc['op']} within {self.timeout_s} s "
                                  "(not connected)") from None
        while (left := end - time.monotonic()) > 0:
            if not self._sock.poll(int(left * 1000) + 1):
                continue
            try:
                reply, rest = unpack(self._sock.recv_multipart())
            except WireError as exc:
                raise FederationError(f"aggregator {self.endpoint}: {exc}") from None
            if reply["id"] == req_id and isinstance(reply.get("version"), int):
                if reply.get("status") == "rejected":
                    raise FederationError(f"aggregator {self.endpoint} rejected {doc['op']}: {reply.get('error')}")
                return reply, rest
        raise FederationError(f"aggregator {self.endpoint}: no answer to {doc['op']} within {self.timeout_s} s")

    def send_update(self, update: ModelUpdate) -> dict[str, Any]:
        """Send ``update`` (weights, sample count, base version; never data); returns the ``accepted`` reply."""
        doc = {"op": "update", "box": update.source, "model": update.model, "base_version": update.base_version,
               "samples": int(update.samples), "metrics": dict(update.metrics)}
        return self._call(doc, encode_weights(update.weights))[0]

    def latest(self, model: str, have: int = -1) -> tuple[dict[str, Any], bytes | None]:
        """The latest version's info, and its ONNX bytes when it is newer than ``have`` (checked by sha256)."""
        reply, rest = self._call({"op": "latest", "model": model, "have": int(have)})
        data = rest[0] if rest else None
        if data is not None and hashlib.sha256(data).hexdigest() != reply.get("sha256"):
            raise FederationError(f"aggregator {self.endpoint}: version {reply.get('version')} arrived damaged "
                                  "(sha256 does not match)")
        return reply, data

    def close(self) -> None:
        self._sock.close(0)
