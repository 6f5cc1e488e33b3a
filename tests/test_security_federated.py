"""The federated aggregator against hostile clients: inflated sample counts, far-off weights, absurd fields,
a decompression bomb, anonymous or unauthorised clients, and a bind beyond loopback without keys."""

from __future__ import annotations

import io
import json
import socket
import tracemalloc
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import zmq
from click.testing import CliRunner

from rsu.cli import main
from rsu.config import ConfigError, parse_config
from rsu.config.publish import ClientCurveConfig, CurveConfig
from rsu.federated.admission import AdmissionPolicy
from rsu.federated.client import FederatedClient, FederationError
from rsu.federated.messages import MessageError, ModelUpdate, decode_weights, encode_weights
from rsu.federated.robust import aggregate
from rsu.federated.server import AggregatorServer, InsecureBindError
from rsu.federated.store import ModelStore
from rsu.federated.weights import read_weights
from rsu.federated.wire import pack, unpack
from rsu.publish.curve import KeySet, generate_keys
from support import free_port, wait_until

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "plugins" / "furnace_fault" / "rsu_furnace_fault" / "fault_lstm.onnx"
TEMPLATE = read_weights(SHIPPED)


def _sevens() -> dict[str, np.ndarray]:
    return {k: np.full_like(v, 7.0) for k, v in TEMPLATE.items()}


def _near(factor: float) -> dict[str, np.ndarray]:
    return {k: v * np.float32(factor) for k, v in TEMPLATE.items()}


def _update(box: str, weights: dict[str, np.ndarray], samples: int, base: int = 0) -> ModelUpdate:
    return ModelUpdate(source=box, t_event_ns=1, model="fault-lstm", base_version=base, samples=samples,
                       weights=weights)


@pytest.fixture()
def store(tmp_path: Path) -> ModelStore:
    return ModelStore(tmp_path / "store", "fault-lstm", SHIPPED)


@pytest.fixture()
def server(store: ModelStore) -> Iterator[AggregatorServer]:
    srv = AggregatorServer(store, "tcp://127.0.0.1:*", min_updates=3).start()
    yield srv
    srv.close()


def _raw(endpoint: str, frames: list[bytes], timeout_ms: int = 10_000) -> dict:
    """Send raw request frames from a plain DEALER and return the decoded reply header."""
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    try:
        sock.send_multipart(frames)
        assert sock.poll(timeout_ms), "the aggregator did not answer"
        return unpack(sock.recv_multipart())[0]
    finally:
        sock.close(0)


def _header(text: str) -> list[bytes]:
    return [b"", b"rsu.fed/1", text.encode(), encode_weights(_near(1.0))]


def test_three_anonymous_clients_claiming_1e12_samples_of_sevens_do_not_become_the_global_model(
        server: AggregatorServer) -> None:
    for i in range(3):
        c = FederatedClient(server.endpoint, timeout_s=10)
        try:
            with pytest.raises(FederationError, match=r"samples 1000000000000 is out of range 1\.\.10000000"):
                c.send_update(_update(f"evil-{i}", _sevens(), 10**12))
        finally:
            c.close()
    assert server.store.versions() == [0]
    assert server.counts["rejected_too_many_samples"] == 3


def test_sevens_within_the_sample_bound_are_too_far_from_the_model(server: AggregatorServer) -> None:
    c = FederatedClient(server.endpoint, timeout_s=10)
    try:
        for i in range(3):
            with pytest.raises(FederationError, match="from the current model, over max_distance 1.0"):
                c.send_update(_update(f"evil-{i}", _sevens(), 1000))
    finally:
        c.close()
    assert server.store.versions() == [0] and server.counts["rejected_too_far"] == 3


def test_trimmed_mean_outvotes_one_box_when_the_distance_bound_is_off(store: ModelStore) -> None:
    srv = AggregatorServer(store, "tcp://127.0.0.1:*", min_updates=3,
                           policy=AdmissionPolicy(max_distance=None)).start()
    c = FederatedClient(srv.endpoint, timeout_s=10)
    try:
        c.send_update(_update("honest-1", _near(1.0), 100))
        c.send_update(_update("honest-2", _near(1.1), 100))
        assert c.send_update(_update("evil", _sevens(), 10_000_000))["version"] == 1
        got = read_weights(store.get(1).path)
    finally:
        c.close()
        srv.close()
    for name, w in got.items():  # per weight the median of three: an honest box's value, never the 7s
        lo, hi = np.minimum(TEMPLATE[name], _near(1.1)[name]), np.maximum(TEMPLATE[name], _near(1.1)[name])
        assert np.all(w >= lo - 1e-6) and np.all(w <= hi + 1e-6), name
    # plain FedAvg, by contrast, is all but the attacker's model
    fed = aggregate([(_near(1.0), 100), (_near(1.1), 100), (_sevens(), 10_000_000)], "fedavg")
    assert np.allclose(fed["lstm.W"], 7.0, atol=0.01)


def test_absurd_fields_are_counted_rejections_and_the_server_goes_on(server: AggregatorServer) -> None:
    cases = {
        '{"op":"update","id":1,"box":"b","model":"fault-lstm","base_version":1e400,"samples":5}': "bad_version",
        '{"op":"update","id":2,"box":"b","model":"fault-lstm","base_version":"0","samples":5}': "bad_version",
        '{"op":"update","id":3,"box":"b","model":"fault-lstm","base_version":0,"samples":true}': "too_many_samples",
        '{"op":"update","id":4,"box":"b","model":"fault-lstm","base_version":-1,"samples":5}': "bad_version",
        '{"op":"update","id":5,"box":"' + "x" * 1000 + '","model":"fault-lstm","base_version":0,"samples":5}':
            "bad_field",
        '{"op":"update","id":6,"box":"b","model":"fault-lstm","base_version":0,"samples":5,"metrics":[1]}':
            "bad_field",
        '{"op":"latest","id":7,"model":"fault-lstm","have":1e400}': "bad_field",
    }
    for header, reason in cases.items():
        reply = _raw(server.endpoint, _header(header))
        assert reply["status"] == "rejected", header
    deep = '{"op":"update","id":8,"metrics":' + "[" * 100_000 + "]" * 100_000 + "}"
    c = FederatedClient(server.endpoint, timeout_s=10)
    s = zmq.Context.instance().socket(zmq.DEALER)
    try:
        s.setsockopt(zmq.LINGER, 0)
        s.connect(server.endpoint)
        s.send_multipart([b"", b"rsu.fed/1", deep.encode(), b""])  # unreadable: counted, no reply
        s.send_multipart([b"", b"rsu.fed/1", b"\xff\xfe", b""])
        # the two connections are not ordered: wait for the count
        wait_until(lambda: server.counts["bad_requests"] >= 2, 60, "two bad requests counted")
        assert c.latest("fault-lstm")[0]["version"] == 0  # still answering
    finally:
        s.close(0)
        c.close()
    for reason in set(cases.values()):
        assert server.counts[f"rejected_{reason}"] >= 1, reason
    assert server.counts["rejected"] == len(cases) and server.counts["bad_requests"] == 2


def test_update_with_infinite_base_version_is_a_message_error() -> None:
    with pytest.raises(MessageError, match="base_version must be an integer"):
        ModelUpdate(source="b", t_event_ns=1, model="m", base_version=json.loads("1e400"), samples=1,
                    weights={"w": np.zeros(2, np.float32)})


def _bomb(elements: int) -> bytes:
    """An npz whose one member inflates to ``elements`` float32 zeros (written in chunks, never held whole)."""
    buf = io.BytesIO()
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                  "shape": (elements,)})
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, value in TEMPLATE.items():  # every other weight well-formed
            if name != "lstm.W":
                member = io.BytesIO()
                np.save(member, value)
                zf.writestr(f"{name}.npy", member.getvalue())
        with zf.open("lstm.W.npy", "w", force_zip64=True) as fh:
            fh.write(header.getvalue())
            left = elements * 4
            chunk = bytes(4 << 20)
            while left > 0:
                fh.write(chunk[:left])
                left -= len(chunk)
    return buf.getvalue()


def test_an_npz_that_expands_to_1e8_elements_is_refused_without_allocating_it(server: AggregatorServer) -> None:
    bomb = _bomb(10**8)
    assert len(bomb) < 1_000_000  # ~390 kB on the wire, 400 MB inflated
    tracemalloc.start()
    try:
        with pytest.raises(MessageError, match=r"'lstm.W': declares 4000001\d\d bytes uncompressed"):
            decode_weights(bomb, {k: v.shape for k, v in TEMPLATE.items()})
        with pytest.raises(MessageError, match="over the limit"):
            decode_weights(bomb)  # no expected shapes: the element budget alone refuses it
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000, peak
    doc = {"op": "update", "id": 1, "box": "b", "model": "fault-lstm", "base_version": 0, "samples": 5}
    reply = _raw(server.endpoint, pack(doc, bomb))
    assert reply["status"] == "rejected" and server.counts["rejected_weights"] == 1


def test_a_lying_npy_header_is_refused() -> None:
    member = io.BytesIO()
    np.save(member, np.zeros(4, np.float32))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:  # the header promises 9 elements, the data holds 4
        zf.writestr("x.npy", member.getvalue().replace(b"(4,)", b"(9,)"))
    with pytest.raises(MessageError, match="16 data bytes, its header promises 36"):
        decode_weights(buf.getvalue())
    obj = io.BytesIO()
    np.save(obj, np.array([1, 2], dtype=np.int64))
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as zf:
        zf.writestr("w.npy", obj.getvalue())
    with pytest.raises(MessageError, match="is not float"):
        decode_weights(zbuf.getvalue())


# ------------------------------------------------------------------ beyond loopback, keys


def test_a_bind_beyond_loopback_without_keys_refuses_to_start(store: ModelStore, tmp_path: Path) -> None:
    port = free_port()
    with pytest.raises(InsecureBindError, match=r"tcp://0\.0\.0\.0:\d+ is reachable beyond loopback"):
        AggregatorServer(store, f"tcp://0.0.0.0:{port}")
    with socket.socket() as s:  # nothing was bound
        s.bind(("0.0.0.0", port))
    with pytest.raises(ConfigError, match="federated.aggregator"):
        parse_config({"site": {"name": "s", "lat": 0, "lon": 0},
                      "federated": {"aggregator": {"bind": "tcp://*:5580"}}})
    cfg = tmp_path / "agg.yaml"
    cfg.write_text("site: {name: s, lat: 0, lon: 0}\nfederated:\n  aggregator:\n    bind: tcp://0.0.0.0:5580\n")
    result = CliRunner().invoke(main, ["federate", "serve", str(cfg), "--for", "1"])
    assert result.exit_code == 2 and "has no CURVE keys" in result.output, result.output


@pytest.fixture()
def keys(tmp_path: Path) -> KeySet:
    return generate_keys(tmp_path / "keys", ("box-a", "box-b"))


def test_with_curve_only_authorised_boxes_get_anything(store: ModelStore, keys: KeySet, tmp_path: Path) -> None:
    curve = CurveConfig(server_secret_key=keys.server_secret, authorized_keys=keys.authorized_keys)
    srv = AggregatorServer(store, "tcp://127.0.0.1:*", min_updates=2, curve=curve).start()
    outsider = generate_keys(tmp_path / "other", ("mallory",))
    good = ClientCurveConfig(server_key=keys.server_public, client_key=keys.clients["box-a"][1])
    bad = ClientCurveConfig(server_key=keys.server_public, client_key=outsider.clients["mallory"][1])
    try:
        for name, cc in (("anonymous", None), ("unauthorised key", bad)):
            c = FederatedClient(srv.endpoint, timeout_s=1.5, curve=cc)
            try:
                with pytest.raises(FederationError, match="no answer"):
                    c.latest("fault-lstm")
                with pytest.raises(FederationError, match="no answer"):
                    c.send_update(_update("evil", _near(1.0), 5))
            finally:
                c.close()
            assert srv.counts["requests"] == 0, name  # not one message reached the aggregator
        a = FederatedClient(srv.endpoint, timeout_s=10, curve=good)
        try:
            assert a.latest("fault-lstm")[0]["version"] == 0
            # one key is one box, whatever box id it claims: the second update replaces the first
            a.send_update(_update("box-1", _near(1.0), 5))
            assert a.send_update(_update("box-2", _near(1.0), 5))["version"] == 0
        finally:
            a.close()
        b = FederatedClient(srv.endpoint, timeout_s=10,
                            curve=ClientCurveConfig(server_key=keys.server_public,
                                                    client_key=keys.clients["box-b"][1]))
        try:
            assert b.send_update(_update("box-b", _near(1.0), 5))["version"] == 1
        finally:
            b.close()
        assert store.get(1).info["contributors"] == ["box-a", "box-b"]
    finally:
        srv.close()
