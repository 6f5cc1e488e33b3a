"""Stages declared once (issue 23): every stage the box can run has a registered StageSpec, the specs come
through ``rsu_register_stages`` like a third party's, and the computed edges are checked."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from rsu_sdk import (
    Alarm,
    Detections,
    Frame,
    ObjectList,
    Prediction,
    SensorReading,
    StageSpec,
    hookimpl,
)

from rsu.app.box import Box
from rsu.app.dataflow import Dataflow, DataflowError, Producer, check_box
from rsu.app.stage_specs import OPERATOR_SPECS, builtin_stage_specs
from rsu.core.stage import BaseStage
from rsu.plugins.manager import create_plugin_manager
from rsu.plugins.registry import collect_stages

# Bases and wrappers: not stages of their own (a wrapper keeps the name and inputs of the stage it wraps).
NOT_STAGES = {"Stage", "BaseStage", "StageWrapper", "Operator", "DeviceWindowOperator"}
TOOLS = {"bench", "sim", "eval", "modeltools", "fuzz", "scaffold", "fedsim", "assetfetch"}  # never in the box
NOT_IN_BOX = {"FedAvgOperator": "runs in the federated aggregation server, not in the box"}


def _classes(root: Path) -> dict[str, tuple[ast.ClassDef, str]]:
    out: dict[str, tuple[ast.ClassDef, str]] = {}
    for f in sorted(root.rglob("*.py")):
        if f.relative_to(root).parts[0] in TOOLS:
            continue
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                out[node.name] = (node, str(f))
    return out


def _name_of(cls: ast.ClassDef) -> str | None:
    """The literal ``name`` a class gives its instances: class attribute or ``__init__``'s default."""
    for n in cls.body:
        if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "name" for t in n.targets) \
                and isinstance(n.value, ast.Constant):
            return str(n.value.value)
        if isinstance(n, ast.FunctionDef) and n.name == "__init__":
            args = n.args
            pairs = [*zip(args.kwonlyargs, args.kw_defaults), *zip(args.args[::-1], args.defaults[::-1])]
            for arg, default in pairs:
                if arg.arg == "name" and isinstance(default, ast.Constant):
                    return str(default.value)
    return None


def _stage_classes(root: Path) -> dict[str, tuple[str | None, bool, str]]:
    """Class -> (its name, whether it is an operator, file) for every class of ``root`` with ``process`` and
    ``handles`` (itself or by inheritance), wrappers (``handles`` taken from the wrapped stage) left out."""
    classes = _classes(root)

    def chain(name: str) -> list[ast.ClassDef]:
        out, todo = [], [name]
        while todo:
            cur = todo.pop()
            if cur in classes:
                out.append(classes[cur][0])
                todo += [ast.unparse(b) for b in classes[cur][0].bases]
        return out

    found: dict[str, tuple[str | None, bool, str]] = {}
    for name, (cls, path) in classes.items():
        family = chain(name)
        src = "\n".join(ast.unparse(c) for c in family)
        if name in NOT_STAGES or "handles" not in src or \
                not any(isinstance(n, ast.FunctionDef) and n.name == "process" for c in family for n in c.body):
            continue
        if "StageWrapper" in {c.name for c in family} or re.search(r"\b(stage|inner)\.handles", ast.unparse(cls)):
            continue  # a wrapper
        found[name] = (_name_of(cls), "Operator" in {c.name for c in family}, path)
    return found


def test_every_stage_class_has_a_registered_spec(repo_root: Path) -> None:
    """Adding a stage (or operator) to rsu/ without declaring its StageSpec fails here."""
    stages = {s.name for s in builtin_stage_specs() if not s.output}
    operators = {s.name for s in OPERATOR_SPECS}
    found = _stage_classes(repo_root / "rsu")
    assert {"DetectorStage", "PowerStage", "FaultPredictionStage", "EmbeddedRunner", "FusionOperator"} <= set(found)
    missing = [f"{cls} ({path}): name {name!r} has no {'operator' if op else 'stage'} spec in rsu/app/stage_specs.py"
               for cls, (name, op, path) in sorted(found.items())
               if cls not in NOT_IN_BOX and name not in (operators if op else stages)]
    assert missing == []


def test_builtin_specs_come_through_the_hook_like_a_third_partys() -> None:
    class Counter:
        @hookimpl
        def rsu_register_stages(self) -> list[StageSpec]:
            return [StageSpec(name="counter", consumes=(ObjectList,), produces=(Alarm,))]

    table = collect_stages(create_plugin_manager(["counter"], extra_plugins=[("counter", Counter())]).pm)
    assert {"detector [latest-value worker]", "detector [batch worker]", "fault_prediction [batch worker]",
            "operators [inline]", "power [inline]", "publisher [inline]", "counter [inline]"} <= set(table)


def test_a_thread_model_outside_the_list_is_refused() -> None:
    with pytest.raises(ValueError, match="thread must be one of"):
        StageSpec(name="x", consumes=(Frame,), thread="router")


def _flow(*stages: StageSpec, producers: tuple[Producer, ...] = (Producer("cam", (Frame,)),)) -> Dataflow:
    publisher = StageSpec(name="publisher", consumes=(Detections, ObjectList, Prediction), output=True)
    return Dataflow(list(producers), list(stages), [publisher])


def test_edges_go_from_producer_to_consumer_by_product_type() -> None:
    flow = _flow(StageSpec(name="det", consumes=(Frame,), produces=(Detections,)),
                 StageSpec(name="fuse", consumes=(Detections,), produces=(ObjectList,)))
    edges = {(e.producer, e.consumer, e.products) for e in flow.edges()}
    assert edges == {("cam", "det", ("Frame",)), ("det", "fuse", ("Detections",)),
                     ("det", "publisher", ("Detections",)), ("fuse", "publisher", ("ObjectList",))}
    assert flow.problems() == []


def test_a_product_nobody_consumes_names_the_stage() -> None:
    flow = _flow(StageSpec(name="det", consumes=(Frame,), produces=(Detections, Alarm)))
    with pytest.raises(DataflowError, match="stage det: produces Alarm but no later stage or output consumes it"):
        flow.check()


def test_a_cycle_names_the_stages() -> None:
    flow = _flow(StageSpec(name="a", consumes=(Frame, Prediction), produces=(Detections,)),
                 StageSpec(name="b", consumes=(Detections,), produces=(Prediction,)))
    assert any("in a cycle a -> b -> a" in p for p in flow.problems())


def test_a_stage_whose_inputs_nobody_makes_names_it() -> None:
    flow = _flow(StageSpec(name="fault", consumes=(SensorReading,), produces=(Prediction,)))
    with pytest.raises(DataflowError, match="stage fault: consumes SensorReading but no source or stage before it"):
        flow.check()


def test_an_observed_input_made_later_reaches_its_observer_and_a_consumed_one_is_not_delivered() -> None:
    flow = _flow(StageSpec(name="det", consumes=(Frame,), observes=(ObjectList,), produces=(Detections,)),
                 StageSpec(name="fuse", consumes=(Detections,), produces=(ObjectList,)))
    assert flow.problems() == []
    assert ("fuse", "det", True) in [(e.producer, e.consumer, e.observes) for e in flow.edges()]
    assert flow.unrouted() == []
    back = _flow(StageSpec(name="det", consumes=(Frame, ObjectList), produces=(Detections,)),
                 StageSpec(name="fuse", consumes=(Detections,), produces=(ObjectList,)))
    assert [(e.producer, e.consumer, e.observes) for e in back.unrouted()] == [("fuse", "det", False)]


class _Mystery(BaseStage):
    name = "mystery"
    handles = (Frame,)

    def process(self, product: object) -> list:
        return []


class _Sink:
    def deliver(self, product: object, origin: str) -> None: ...

    def stop_plugins(self) -> None: ...

    def close(self) -> None: ...

    def stats(self) -> dict:
        return {}


def test_a_running_stage_the_specs_do_not_give_fails_naming_it() -> None:
    box = Box(sources=[], sink=_Sink(), inline_stages=[_Mystery()])
    with pytest.raises(DataflowError, match=r"runs stages \['mystery'\] but the specs give \[\]"):
        check_box(box, _flow())


@pytest.fixture(scope="module")
def furnace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import subprocess
    import sys

    rec = tmp_path_factory.mktemp("furnace")
    subprocess.run([sys.executable, "-m", "rsu", "simulate", "furnace", "--out", str(rec), "--seconds", "120",
                    "--seed", "0"], check=True, capture_output=True, timeout=120)
    return rec


@pytest.mark.parametrize("mode", ["operator", "inline", "worker"])
def test_the_builder_checks_each_stage_it_creates_against_its_spec(furnace: Path, tmp_path: Path,
                                                                    mode: str) -> None:
    """build_box runs the specs' checks (rsu/app/dataflow.py: check_box) on every box it builds."""
    from rsu.app.dataflow import box_dataflow
    from rsu.app.testing import running_box
    from rsu.plugins.registry import collect_sources

    raw = {"site": {"name": "p", "lat": 51.0, "lon": 6.0},
           "sources": [{"id": "furnaces", "type": "sensor_replay", "path": str(furnace), "speed": 0.0}],
           "publish": {"zmq": {"endpoint": "tcp://127.0.0.1:*"}}, "power": {"enabled": True},
           "pipeline": {"checkpoint": {"dir": str(tmp_path / "ckpt")}},
           "fault_prediction": {"mode": mode}, "plugins": {"enabled": ["furnace_fault"]}}
    with running_box(raw, tmp_path) as built:
        pm = built.box.sink.plugins.loaded.pm
        flow = box_dataflow(built.config, built.box, pm, collect_sources(pm))
    threads = {s.name: s.thread for s in flow.stages}
    expected = {"operator": {"operators": "inline"}, "inline": {"fault_prediction": "inline"},
                "worker": {"fault_prediction": "batch worker"}}[mode]
    assert threads == {**expected, "power": "inline"}


def test_the_walk_finds_a_new_stage_class_and_skips_wrappers(tmp_path: Path) -> None:
    (tmp_path / "extra.py").write_text(
        "class BaseStage: ...\n"
        "class StageWrapper(BaseStage): ...\n"
        "class Counter(BaseStage):\n    name = 'counter'\n    handles = ()\n"
        "    def process(self, product): return []\n"
        "class Around(StageWrapper):\n    def process(self, product): return self.stage.process(product)\n"
        "    handles = ()\n", encoding="utf-8")
    assert _stage_classes(tmp_path) == {"Counter": ("counter", False, str(tmp_path / "extra.py"))}
