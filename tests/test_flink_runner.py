"""The Flink runner: the same operators as a PyFlink job give the same products as the embedded runner,
on a local mini-cluster and on a real standalone cluster started from the wheel.

Needs the ``flink`` extra and Java 17: run in the Flink venv (docs/pipeline.md, "Tests").
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("pyflink", reason="pyflink not importable: install the flink extra (rsu[flink]) in its own venv")
if shutil.which("java") is None:
    pytest.skip("java not on PATH (the Flink runner needs Java 17)", allow_module_level=True)

from pipeline_helpers import CHANNELS, assert_same_products, readings, recording, sort_key  # noqa: E402

from rsu.pipeline.assemble import operators_from_config  # noqa: E402
from rsu.pipeline.embedded import EmbeddedRunner  # noqa: E402
from rsu.pipeline.flink.cluster import StandaloneCluster  # noqa: E402
from rsu.pipeline.flink.runner import FlinkRunner  # noqa: E402
from rsu.pipeline.window_op import DeviceWindowOperator  # noqa: E402

pytestmark = pytest.mark.flink


def _operators(cfg):  # noqa: ANN001, ANN202
    return operators_from_config(cfg, extra=[DeviceWindowOperator(CHANNELS, window=20, stride=2)])


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    cfg, products = recording(tmp_path_factory.mktemp("rec"), seconds=10.0)
    merged = sorted([*products, *readings(devices=3, samples=40)], key=lambda p: p.t_event_ns)
    return cfg, merged


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    with StandaloneCluster(tmp_path_factory.mktemp("flink-cluster")) as c:
        yield c


def _run_flink(cfg, elements, address: str | None = None):  # noqa: ANN001, ANN202
    pc = cfg.pipeline.model_copy(update={"flink": cfg.pipeline.flink.model_copy(
        update={"address": address, "checkpoint_interval_ms": 0})})
    got: list = []
    runner = FlinkRunner(_operators(cfg), pc, got.append)
    runner.open()
    for e in elements:
        runner.process(e)
    runner.finish(end_of_input=True)
    stats = runner.stats()
    assert stats["job_error"] is None, stats["job_error"]
    return sorted(got, key=sort_key), stats


def test_parity_embedded_vs_flink_local(inputs) -> None:  # noqa: ANN001
    cfg, elements = inputs
    embedded = sorted(EmbeddedRunner(_operators(cfg)).run(elements), key=sort_key)
    flink, stats = _run_flink(cfg, elements)
    assert stats["feeder"]["sent"] == len(elements)
    assert {type(p).__name__ for p in flink} == {"ObjectList", "Prediction"}
    assert_same_products(flink, embedded)


def test_job_on_standalone_cluster(inputs, cluster) -> None:  # noqa: ANN001
    cfg, elements = inputs
    assert cluster.overview()["taskmanagers"] == 1
    part = elements[:150]
    embedded = sorted(EmbeddedRunner(_operators(cfg)).run(part), key=sort_key)
    flink, stats = _run_flink(cfg, part, address=cluster.address)
    assert_same_products(flink, embedded)
    jobs = cluster.jobs()
    assert [j["state"] for j in jobs] == ["FINISHED"]
