"""The fault LSTM as a keyed operator (rsu/pipeline/fault_op.py) and its wiring into the box
(rsu/app/fault_setup.py): same predictions as the inline stage, picklable without its session, state
checkpointed and resumed, and the start-up rules of ``fault_prediction``."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from rsu_sdk import ModelSpec, SensorReading

from rsu.app.fault_setup import fault_prediction
from rsu.config import parse_config
from rsu.inference.fault_predictor import FaultPredictor, ModelMetadataError
from rsu.pipeline.checkpoint import Checkpointer
from rsu.pipeline.embedded import EmbeddedRunner, fingerprint
from rsu.pipeline.fault_op import FaultWindowOperator
from rsu.pipeline.fault_stage import FaultPredictionStage
from rsu.pipeline.windows import DeviceState
from rsu.plugins.manager import create_plugin_manager
from rsu.plugins.registry import collect_models
from rsu.sim.furnace import CHANNELS, FurnaceSettings, simulate_run
from pipeline_helpers import kill_then_restart

SITE = {"name": "plant", "lat": 0, "lon": 0}


@pytest.fixture(scope="module")
def loaded():
    lp = create_plugin_manager(["furnace_fault"])
    lp.require_enabled()
    return lp


@pytest.fixture(scope="module")
def spec(loaded) -> ModelSpec:
    return collect_models(loaded.pm)["fault-lstm"]


@pytest.fixture(scope="module")
def readings() -> list[SensorReading]:
    """Seed 0, 900 s: furnace-2 has a tuyere_damage episode (precursor from 302 s, fault 482-679 s)."""
    run = simulate_run(0, FurnaceSettings(seconds=900, devices=2))
    t = run.t_ns()
    return [SensorReading(source="sim", t_event_ns=int(t[i]), device=d,
                          values=dict(zip(CHANNELS, run.values[d][i].tolist())))
            for i in range(t.size) for d in run.devices]


@pytest.mark.parametrize("opts", [{}, {"stride": 3, "devices": ["furnace-2"]}])
def test_operator_predictions_equal_the_inline_stage(spec, readings, opts) -> None:
    stage = FaultPredictionStage(FaultPredictor.from_spec(spec), **opts)
    expected = [p for r in readings for p in stage.process(r)]
    op = FaultWindowOperator(spec, **opts)
    got = EmbeddedRunner([op]).run(readings)
    assert expected and got == expected  # dataclass equality: source, time, device, model, score (bitwise)
    assert max(p.score for p in got) > 0.98  # the episode is in there
    assert op.stats()["model_runs"] == len(got) == op.stats()["windows"]
    if opts:
        assert op.stats()["skipped_devices"] == 900


def test_pickled_operator_carries_no_session_and_builds_it_on_use(spec, readings) -> None:
    op = FaultWindowOperator(spec)
    op.open()
    clone = pickle.loads(pickle.dumps(op))
    assert clone.scorer._predictor is None and clone.spec == spec
    windows = [w for r in readings[:120] if (w := clone.windows.push(r)) is not None]
    w = windows[-1]
    assert clone.scorer(w) == op.scorer(w)  # built on first use, same model, same score
    assert clone.scorer._predictor is not None


def test_window_state_is_the_model_state_and_resumes_from_a_checkpoint(spec, readings, tmp_path: Path) -> None:
    whole = EmbeddedRunner([FaultWindowOperator(spec)]).run(readings)

    def runner() -> EmbeddedRunner:
        ops = [FaultWindowOperator(spec)]
        return EmbeddedRunner(ops, checkpointer=Checkpointer(tmp_path, fingerprint=fingerprint(ops)),
                              checkpoint_interval_s=3600)

    first = runner()
    first.open()
    cut = len(readings) // 2 + 1  # between furnace-1 and furnace-2 at the same event time
    assert readings[cut - 1].t_event_ns == readings[cut].t_event_ns
    before = [p for r in readings[:cut] for p in first.process(r)]
    first.finish(end_of_input=False)  # a stop that is not end of input: checkpoint, no flush
    held = first.store.tables[("fault_prediction", "window")]
    assert set(held) == {"furnace-1", "furnace-2"}
    assert all(isinstance(s, DeviceState) and s.baseline is not None for s in held.values())
    assert held["furnace-1"].count == held["furnace-2"].count + 1

    second = runner()
    after = second.run(readings)  # the recording replayed from the start: what was done is skipped
    assert second.checkpointer.counts["restored"] == 1
    assert second.stats()["replayed_skipped"] == cut
    assert before + after == whole  # baselines and windows resumed exactly: not one prediction differs


def test_bad_model_is_named(spec) -> None:
    with pytest.raises(ModelMetadataError, match="not a 'fault-predictor'"):
        FaultWindowOperator(ModelSpec(name="d", path=spec.path, kind="detector"))
    meta = {k: v for k, v in spec.metadata.items() if k != "window"}
    with pytest.raises(ModelMetadataError, match="'window'"):
        FaultWindowOperator(ModelSpec(name="x", path=spec.path, kind=spec.kind, metadata=meta))


# -- start-up rules (rsu/app/fault_setup.py) ---------------------------------------------------------------

REPLAY = {"id": "furnaces", "type": "sensor_replay", "path": "rec"}
CAMERA = {"id": "cam-1", "type": "camera", "url": "video.avi"}


def _parts(pm, sources, section=None):  # noqa: ANN001, ANN202
    doc = {"site": SITE, "sources": sources}
    if section is not None:
        doc["fault_prediction"] = section
    problems: list[str] = []
    return fault_prediction(parse_config(doc), pm, problems), problems


def test_defaults_run_when_the_plugin_registers_the_model(loaded) -> None:
    parts, problems = _parts(loaded.pm, [REPLAY])
    assert problems == [] and parts.mode == "operator" and parts.stage is None
    [op] = parts.operators
    assert isinstance(op, FaultWindowOperator) and op.model == "fault-lstm"
    assert op.scorer._predictor is not None  # loaded at start-up: a bad model is a start-up problem


def test_inline_and_worker_modes_give_the_host_stage(loaded) -> None:
    for mode in ("inline", "worker"):
        parts, problems = _parts(loaded.pm, [REPLAY], {"mode": mode, "stride": 2, "batching": {"max_batch": 8}})
        assert problems == [] and parts.operators == [] and parts.mode == mode
        assert isinstance(parts.stage, FaultPredictionStage) and parts.stage.queue.policy.max_batch == 8


def test_off_without_plant_readings_or_without_a_model() -> None:
    bare = create_plugin_manager([]).pm  # no plugin enabled: nothing registers a model
    parts, problems = _parts(bare, [REPLAY])  # no section: silently off
    assert parts.operators == [] and parts.stage is None and problems == []
    parts, problems = _parts(bare, [CAMERA], {"model": "fault-lstm"})  # no plant readings: silently off
    assert parts.operators == [] and parts.stage is None and problems == []
    parts, problems = _parts(bare, [REPLAY], {"enabled": False})
    assert parts.operators == [] and problems == []


def test_missing_model_with_plant_readings_is_a_startup_problem() -> None:
    bare = create_plugin_manager([]).pm
    for source in (REPLAY, {"id": "air", "type": "air_station", "replay": {"path": "air"}},
                   {"id": "opc", "type": "opcua_historian", "url": "opc.tcp://x"}):
        parts, problems = _parts(bare, [source], {"model": "fault-lstm"})
        assert parts.operators == [] and len(problems) == 1
        assert "fault_prediction.model" in problems[0] and "'fault-lstm'" in problems[0]
        assert "furnace_fault" in problems[0]


# -- a killed box resumes the fault windows (SIGKILL mid-stream, then a restart) -----------------------------

CHILD = Path(__file__).with_name("fault_kill_child.py")


@pytest.mark.slow
def test_killed_box_resumes_fault_windows_from_checkpoint(spec, tmp_path: Path) -> None:
    from rsu.sim.furnace.recording import simulate
    from rsu.sources.sensor_replay import iter_readings

    rec = tmp_path / "rec"
    simulate(rec, seconds=600, seed=0)
    whole = {(p.device, p.t_event_ns): p.score
             for p in EmbeddedRunner([FaultWindowOperator(spec)]).run(iter_readings(rec, "furnaces"))}
    assert len(whole) == 2 * (600 - 59)

    before, after, stats = kill_then_restart(CHILD, rec, tmp_path, speed=100.0, min_lines=150,
                                             wait_s=60)  # 600 s of recording in 6 s
    assert 150 <= len(before) < len(whole), "the kill must land mid-stream"
    assert stats["checkpoint"]["restored"] == 1 and stats["replayed_skipped"] > 0
    # the windows and baselines resumed: the first predictions after the restart come at once (no refill of
    # 60 samples) and every one equals the uninterrupted run's
    assert after and len(after) + len(before) >= len(whole)
    for d in after:
        assert d["s"] == pytest.approx(whole[(d["d"], d["t"])], abs=1e-6)
    assert {(d["d"], d["t"]) for d in before} | {(d["d"], d["t"]) for d in after} == set(whole)


def test_unloadable_model_is_a_startup_problem(spec, tmp_path: Path) -> None:
    from rsu_sdk import hookimpl

    class Broken:
        @hookimpl
        def rsu_register_models(self) -> list[ModelSpec]:
            return [ModelSpec(name="fault-lstm", path=tmp_path / "missing.onnx", kind=spec.kind,
                              metadata=spec.metadata)]

    pm = create_plugin_manager(["broken"], extra_plugins=[("broken", Broken())]).pm
    for mode in ("operator", "worker"):
        parts, problems = _parts(pm, [REPLAY], {"mode": mode})
        assert parts.operators == [] and parts.stage is None
        assert len(problems) == 1 and problems[0].startswith("fault_prediction.model 'fault-lstm': ")
        assert "missing.onnx" in problems[0]
