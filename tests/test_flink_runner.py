"""The Flink runner: the same operators as a PyFlink job give the same products as the embedded runner,
on a local mini-cluster and on a real standalone cluster started from the wheel; the fault LSTM operator
gives the same predictions on a simulated furnace recording, and `rsu run --runner flink` runs it.

Needs the ``flink`` extra and Java 17: run in the Flink venv (docs/pipeline.md, "Tests").
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytest.importorskip("pyflink", reason="pyflink not importable: install the flink extra (rsu[flink]) in its own venv")
if shutil.which("java") is None:
    pytest.skip("java not on PATH (the Flink runner needs Java 17)", allow_module_level=True)

from pipeline_helpers import CHANNELS, assert_same_products, readings, recording, sort_key  # noqa: E402

from rsu.config import parse_config  # noqa: E402
from rsu.pipeline.assemble import operators_from_config  # noqa: E402
from rsu.pipeline.embedded import EmbeddedRunner  # noqa: E402
from rsu.pipeline.fault_op import FaultWindowOperator  # noqa: E402
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


@pytest.fixture(scope="module")
def furnace(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """A short `rsu simulate furnace` recording (2 furnaces, 4 min at 1 Hz) and the shipped fault model."""
    from rsu.plugins.manager import create_plugin_manager
    from rsu.plugins.registry import collect_models
    from rsu.sources.sensor_replay import iter_readings

    rec = tmp_path_factory.mktemp("furnace")
    subprocess.run([sys.executable, "-m", "rsu", "simulate", "furnace", "--out", str(rec), "--seconds", "240",
                    "--seed", "5", "--devices", "2"], check=True, capture_output=True, timeout=120)
    loaded = create_plugin_manager(["furnace_fault"])
    loaded.require_enabled()
    return collect_models(loaded.pm)["fault-lstm"], list(iter_readings(rec, source="furnaces"))


def _run_flink(cfg, elements, address: str | None = None, operators=None):  # noqa: ANN001, ANN202
    pc = cfg.pipeline.model_copy(update={"flink": cfg.pipeline.flink.model_copy(
        update={"address": address, "checkpoint_interval_ms": 0})})
    got: list = []
    runner = FlinkRunner(_operators(cfg) if operators is None else operators, pc, got.append)
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


def test_fault_predictor_parity_embedded_vs_flink(furnace) -> None:  # noqa: ANN001
    """The fault LSTM operator (windows and baselines in keyed state, ORT session built in the worker) gives
    the same predictions in both runners."""
    spec, elements = furnace
    cfg = parse_config({"site": {"name": "plant", "lat": 0, "lon": 0}})
    key = lambda p: (p.device, p.t_event_ns)  # noqa: E731
    embedded = sorted(EmbeddedRunner([FaultWindowOperator(spec)]).run(elements), key=key)
    flink, stats = _run_flink(cfg, elements, operators=[FaultWindowOperator(spec)])
    flink = sorted(flink, key=key)
    assert stats["feeder"]["sent"] == len(elements) == 2 * 240
    assert len(embedded) == 2 * (240 - 59)
    assert [key(p) for p in flink] == [key(p) for p in embedded]
    assert {(p.source, p.model) for p in flink} == {("fault_prediction", "fault-lstm")}
    assert max(abs(a.score - b.score) for a, b in zip(flink, embedded)) <= 1e-6


def test_rsu_run_furnace_on_flink(tmp_path: Path) -> None:
    """`rsu run --runner flink` wires the fault operator (default mode) into the job: every window predicted."""
    rec = tmp_path / "rec"
    subprocess.run([sys.executable, "-m", "rsu", "simulate", "furnace", "--out", str(rec), "--seconds", "180",
                    "--seed", "5"], check=True, capture_output=True, timeout=120)
    cfg = tmp_path / "furnace.yaml"
    cfg.write_text(yaml.safe_dump({
        "site": {"name": "plant", "lat": 0, "lon": 0},
        "sources": [{"id": "furnaces", "type": "sensor_replay", "path": str(rec), "speed": 0}],
        "publish": {"zmq": {"endpoint": "tcp://127.0.0.1:*"}},
        "pipeline": {"checkpoint": {"dir": str(tmp_path / "ckpt")}},
        "plugins": {"enabled": ["furnace_fault"]},
    }))
    proc = subprocess.run([sys.executable, "-m", "rsu", "run", str(cfg), "--runner", "flink"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    assert summary["stage_stats"]["operators"]["runner"] == "flink"
    assert summary["stage_stats"]["operators"]["job_error"] is None
    assert summary["stages"]["routed"]["Prediction"] == 2 * (180 - 59)
