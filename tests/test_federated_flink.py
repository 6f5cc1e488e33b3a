"""The Flink aggregator (``rsu federate serve --runner flink``) makes the same global weights as the embedded one:
the same FedAvgOperator runs as a keyed PyFlink function over the update stream.

Needs the ``flink`` extra and Java 17: run in the Flink venv (docs/pipeline.md, "Tests").
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pyflink", reason="pyflink not importable: install the flink extra (rsu[flink]) in its own venv")
if shutil.which("java") is None:
    pytest.skip("java not on PATH (the Flink runner needs Java 17)", allow_module_level=True)

from rsu.config.pipeline import PipelineConfig  # noqa: E402
from rsu.federated.client import FederatedClient  # noqa: E402
from rsu.federated.messages import ModelUpdate  # noqa: E402
from rsu.federated.server import AggregatorServer  # noqa: E402
from rsu.federated.store import ModelStore  # noqa: E402
from rsu.federated.weights import read_weights, weights_digest  # noqa: E402
from support import wait_until  # noqa: E402

pytestmark = pytest.mark.flink

SHIPPED = Path(__file__).resolve().parents[1] / "plugins" / "furnace_fault" / "rsu_furnace_fault" / "fault_lstm.onnx"


def _updates() -> list[ModelUpdate]:
    """Two rounds of three boxes, with weights that differ in every element and uneven sample counts."""
    base = read_weights(SHIPPED)
    rng = np.random.default_rng(11)
    out = []
    for version in (0, 1):
        for i, box in enumerate(("box-a", "box-b", "box-c")):
            w = {k: (v + rng.normal(0, 0.05, v.shape)).astype(np.float32) for k, v in base.items()}
            out.append(ModelUpdate(source=box, t_event_ns=1_700_000_000_000_000_000 + 10**9 * (3 * version + i),
                                   model="fault-lstm", base_version=version, samples=100 * (i + 1) + version,
                                   weights=w))
    return out


def _aggregate(tmp: Path, runner: str) -> ModelStore:
    store = ModelStore(tmp / runner, "fault-lstm", SHIPPED)
    pc = PipelineConfig()
    pc = pc.model_copy(update={"flink": pc.flink.model_copy(update={"checkpoint_interval_ms": 0})})
    server = AggregatorServer(store, "tcp://127.0.0.1:*", min_updates=3, runner=runner, pipeline_cfg=pc).start()
    client = FederatedClient(server.endpoint, timeout_s=30.0)
    try:
        for update in _updates():
            wait_until(lambda: (store.latest_version() or 0) >= update.base_version, 120,  # noqa: B023 - now
                       f"version {update.base_version}, the one a box trains on")
            client.send_update(update)
        wait_until(lambda: store.latest_version() == 2, 120, "version 2")
    finally:
        client.close()
        server.close()
    return store


def test_flink_aggregator_matches_embedded(tmp_path: Path) -> None:
    embedded = _aggregate(tmp_path, "embedded")
    flink = _aggregate(tmp_path, "flink")
    assert embedded.versions() == flink.versions() == [0, 1, 2]
    for v in (1, 2):
        e, f = embedded.get(v), flink.get(v)
        assert e.info["contributors"] == f.info["contributors"] == ["box-a", "box-b", "box-c"]
        assert e.info["weights_digest"] == f.info["weights_digest"]
        assert weights_digest(read_weights(f.path)) == e.info["weights_digest"]
        assert e.path.read_bytes() == f.path.read_bytes()
