"""Federated averaging of the fault LSTM: FedAvg maths, the keyed operator, the aggregator over ZeroMQ, hot swap
in a running predictor, and three simulated boxes whose global model beats each local one on the union."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rsu.federated.client import FederatedClient, FederationError
from rsu.federated.fedavg import fedavg
from rsu.federated.hotswap import ModelWatcher
from rsu.federated.messages import GlobalModel, MessageError, ModelUpdate, decode_weights, encode_weights
from rsu.federated.operator import FedAvgOperator
from rsu.federated.server import AggregatorServer
from rsu.federated.store import ModelStore
from rsu.federated.weights import read_weights, weights_digest, write_weights
from rsu.inference.fault_predictor import FaultPredictor
from rsu.pipeline.embedded import EmbeddedRunner
from support import wait_until

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "plugins" / "furnace_fault" / "rsu_furnace_fault" / "fault_lstm.onnx"
META = json.loads(SHIPPED.with_suffix(".json").read_text())


def _scaled(factor: float) -> dict[str, np.ndarray]:
    return {k: v * np.float32(factor) for k, v in read_weights(SHIPPED).items()}


def _update(box: str, factor: float, samples: int, base: int = 0) -> ModelUpdate:
    return ModelUpdate(source=box, t_event_ns=1_000 + samples, model="fault-lstm", base_version=base,
                       samples=samples, weights=_scaled(factor))


def test_fedavg_is_the_sample_weighted_mean() -> None:
    a = {"w": np.array([1.0, 2.0], np.float32), "b": np.array([[0.0]], np.float32)}
    b = {"w": np.array([3.0, 6.0], np.float32), "b": np.array([[4.0]], np.float32)}
    out = fedavg([(a, 1), (b, 3)])
    np.testing.assert_allclose(out["w"], [2.5, 5.0])
    np.testing.assert_allclose(out["b"], [[3.0]])
    assert out["w"].dtype == np.float32
    np.testing.assert_allclose(fedavg([(a, 5)])["w"], a["w"])  # one box: its own weights
    with pytest.raises(ValueError, match="samples"):
        fedavg([(a, 0)])
    with pytest.raises(ValueError, match="shape"):
        fedavg([(a, 1), ({"w": np.zeros(3, np.float32), "b": b["b"]}, 1)])
    with pytest.raises(ValueError, match="weights"):
        fedavg([(a, 1), ({"w": b["w"]}, 1)])


def test_onnx_weights_round_trip_and_messages_carry_no_pickles() -> None:
    w = read_weights(SHIPPED)
    assert set(w) == {"lstm.W", "lstm.R", "lstm.B", "head.weight", "head.bias"}
    assert weights_digest(read_weights(write_weights(SHIPPED, w))) == weights_digest(w)
    assert weights_digest(decode_weights(encode_weights(w))) == weights_digest(w)
    import pickle

    with pytest.raises(MessageError):
        decode_weights(pickle.dumps({"evil": 1}))
    with pytest.raises(MessageError, match="samples"):
        _update("box", 1.0, 0)


def test_operator_rounds_versions_and_staleness() -> None:
    op = FedAvgOperator(min_updates=2)
    runner = EmbeddedRunner([op])
    out = runner.run([_update("a", 1.0, 100), _update("a", 2.0, 100),  # a's newer update replaces its older one
                      _update("b", 4.0, 300),  # round 1: (2*100 + 4*300) / 400 = 3.5
                      _update("c", 1.0, 50, base=0),  # stale: trained from version 0, global is at 1
                      _update("c", 1.0, 50, base=5),  # from a version not made yet
                      _update("c", 1.0, 50, base=1), _update("a", 3.0, 50, base=1)])  # round 2: 2.0
    assert [type(p) for p in out] == [GlobalModel, GlobalModel]
    g1, g2 = out
    assert (g1.version, g1.contributors, g1.samples) == (1, ("a", "b"), 400)
    np.testing.assert_allclose(g1.weights["head.bias"], _scaled(3.5)["head.bias"], rtol=1e-6)
    assert (g2.version, g2.contributors) == (2, ("a", "c"))
    np.testing.assert_allclose(g2.weights["lstm.W"], _scaled(2.0)["lstm.W"], rtol=1e-6)
    assert op.counts["replaced"] == 1 and op.counts["stale"] == 1 and op.counts["future"] == 1


@pytest.fixture()
def aggregator(tmp_path: Path):  # noqa: ANN201
    store = ModelStore(tmp_path / "store", "fault-lstm", SHIPPED)
    server = AggregatorServer(store, "tcp://127.0.0.1:*", min_updates=2).start()
    yield server
    server.close()


def test_aggregator_over_zmq_versions_the_store_and_rejects_bad_updates(aggregator: AggregatorServer) -> None:
    client = FederatedClient(aggregator.endpoint, timeout_s=10.0)
    try:
        info, data = client.latest("fault-lstm")
        assert info["version"] == 0 and data == SHIPPED.read_bytes()
        assert client.latest("fault-lstm", have=0)[1] is None  # nothing newer: no bytes sent
        assert client.send_update(_update("box-1", 1.0, 100))["version"] == 0
        assert client.send_update(_update("box-2", 1.4, 300))["version"] == 1
        info, data = client.latest("fault-lstm", have=0)
        assert info["version"] == 1 and info["contributors"] == ["box-1", "box-2"] and info["samples"] == 400
        # two boxes: nothing to trim, the sample-weighted mean (100 * 1.0 + 300 * 1.4) / 400
        np.testing.assert_allclose(read_weights(data)["lstm.R"], _scaled(1.3)["lstm.R"], rtol=1e-6)
        bad_shape = ModelUpdate(source="box-3", t_event_ns=1, model="fault-lstm", base_version=1, samples=5,
                                weights={**_scaled(1.0), "head.bias": np.zeros(2, np.float32)})
        with pytest.raises(FederationError, match=r"'head.bias' has shape \(2,\), expected \(1,\)"):
            client.send_update(bad_shape)
        with pytest.raises(FederationError, match=r"base_version 9 is out of range 0\.\.1"):
            client.send_update(_update("box-3", 1.0, 5, base=9))
        other = ModelUpdate(source="box-3", t_event_ns=1, model="other-model", base_version=0, samples=5,
                            weights=_scaled(1.0))
        with pytest.raises(FederationError, match="not aggregated here"):
            client.send_update(other)
    finally:
        client.close()
    assert aggregator.store.versions() == [0, 1]
    assert aggregator.stats()["rejected"] == 3


def test_hot_swap_without_restart(aggregator: AggregatorServer) -> None:
    predictor = FaultPredictor("fault-lstm", SHIPPED, META)
    windows = np.random.default_rng(3).normal(size=(8, 60, 10)).astype(np.float32) * 5
    before = predictor.predict(windows)
    watcher = ModelWatcher(FederatedClient(aggregator.endpoint), "fault-lstm",
                           lambda data, version: predictor.reload(data, version), poll_s=0.05, have=0).start()
    try:
        client = FederatedClient(aggregator.endpoint)
        client.send_update(_update("box-1", 0.5, 10))
        client.send_update(_update("box-2", 0.5, 30))
        client.close()
        # the box keeps predicting while the swap happens
        wait_until(lambda: predictor.predict(windows) is not None and predictor.version == 1, 60,
                   "the hot swap to version 1")
    finally:
        watcher.stop()
    assert predictor.version == 1 and watcher.counts["swaps"] == 1
    after = predictor.predict(windows)
    expected = FaultPredictor("v1", aggregator.store.get(1).path, META).predict(windows)
    np.testing.assert_array_equal(after, expected)
    assert not np.allclose(after, before)
    # a broken version leaves the running model in place
    with pytest.raises(Exception):  # noqa: B017 - ORT's own error type, wrapped
        predictor.reload(b"not an onnx model", 2)
    np.testing.assert_array_equal(predictor.predict(windows), expected)
    assert predictor.version == 1


@pytest.mark.tools
def test_three_boxes_global_beats_each_local_on_the_union(tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="fine-tuning needs the tools extra (torch)")
    from rsu.fedsim.experiment import three_box_experiment

    result = three_box_experiment(tmp_path, rounds=6, steps=30, seconds=28_800.0)
    print("FedAvg on the union of fault kinds:", json.dumps({"global": result["global"], "local": result["local"]}))
    g = result["global"]
    assert g["version"] == 6 and result["versions"] == list(range(7))
    for box, local in result["local"].items():
        assert g["auc"] > local["auc"], (box, g, local)
        assert g["recall"] > local["recall"], (box, g, local)


def test_box_wiring_hot_swaps_the_running_fault_operator(aggregator: AggregatorServer, tmp_path: Path) -> None:
    from rsu.app.fault_setup import fault_prediction
    from rsu.config import parse_config
    from rsu.federated.wiring import attach_hot_swap
    from rsu.plugins.manager import create_plugin_manager

    cfg = parse_config({"site": {"name": "bf", "lat": 51.5, "lon": 6.7},
                        "sources": [{"id": "furnaces", "type": "sensor_replay", "path": str(tmp_path)}],
                        "plugins": {"enabled": ["furnace_fault"]},
                        "federated": {"client": {"endpoint": aggregator.endpoint, "poll_s": 0.05}}})
    problems: list[str] = []
    fault = fault_prediction(cfg, create_plugin_manager(["furnace_fault"]).pm, problems)
    assert not problems and fault.operators
    watcher = attach_hot_swap(cfg, fault).start()
    predictor = fault.operators[0].scorer.predictor
    try:
        client = FederatedClient(aggregator.endpoint)
        client.send_update(_update("box-1", 0.9, 10))
        client.send_update(_update("box-2", 0.9, 10))
        client.close()
        wait_until(lambda: predictor.version == 1, 60, "the running operator's swap to version 1")
    finally:
        watcher.stop()
    assert predictor.version == 1 and watcher.counts["swaps"] >= 1
    assert fault.operators[0].scorer.predictor is predictor  # the same running object: no restart
