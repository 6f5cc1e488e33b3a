"""The box's dataflow computed from the registered :class:`~rsu_sdk.StageSpec` records: which stages a config
builds (:func:`plan`), the edges between them (:meth:`Dataflow.edges`, producer -> consumer by product type, as
the router delivers them), and the checks run at start (:meth:`Dataflow.problems`).

Routing (:class:`rsu.app.graph.Graph`) only goes forward: a product made by a source, the box itself or an
output (a plugin's ``context.emit``) enters at the first stage; a stage's products enter just after it; every
product then reaches the outputs. ``rsu graph CONFIG`` prints the result (:mod:`rsu.app.dataflow_render`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rsu_sdk import (
    PRODUCT_TYPES,
    HealthEvent,
    RsuError,
    SourceSpec,
    StageSpec,
)

from rsu.app.stage_specs import OPERATOR_SPECS

__all__ = ["Dataflow", "DataflowError", "Edge", "Producer", "box_dataflow", "check_box", "plan", "running_threads"]


class DataflowError(RsuError):
    """The specs do not make a sound graph; the message names each stage at fault, one line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("dataflow:\n  " + "\n  ".join(problems))


@dataclass(frozen=True, slots=True)
class Producer:
    """What puts products in at the first stage: a source, the box itself (health events), an output."""

    name: str
    produces: tuple[type, ...]
    kind: str = "source"


@dataclass(frozen=True, slots=True)
class Edge:
    """``producer -> consumer`` carrying ``products``; ``observes`` for inputs a stage only watches."""

    producer: str
    consumer: str
    products: tuple[str, ...]
    observes: bool = False


def _matches(kind: type, wanted: Sequence[type]) -> bool:
    return any(issubclass(kind, w) for w in wanted)


def _names(types: Sequence[type]) -> str:
    return ", ".join(t.__name__ for t in types)


@dataclass
class Dataflow:
    """Producers, stages in graph order and outputs, as specs."""

    producers: list[Producer]
    stages: list[StageSpec]
    outputs: list[StageSpec] = field(default_factory=list)

    def _entries(self) -> list[tuple[str, tuple[type, ...], int]]:
        """``(name, products, first stage index they reach)`` for everything that makes products."""
        out = [(p.name, p.produces, 0) for p in self.producers]
        out += [(s.name, s.produces, i + 1) for i, s in enumerate(self.stages)]
        out += [(o.name, o.produces, 0) for o in self.outputs if o.produces]
        return out

    def edges(self) -> list[Edge]:
        """Every producer -> consumer pair the router delivers on, with the product types it carries."""
        found: dict[tuple[str, str, bool], list[str]] = {}
        for name, produces, start in self._entries():
            for kind in produces:
                for i, stage in enumerate(self.stages):  # consumed from later stages, observed from anywhere
                    for observes, wanted in ((False, stage.consumes if i >= start else ()), (True, stage.observes)):
                        if name != stage.name and _matches(kind, wanted):
                            found.setdefault((name, stage.name, observes), []).append(kind.__name__)
                for out in self.outputs:
                    if out.name != name and _matches(kind, out.consumes):
                        found.setdefault((name, out.name, False), []).append(kind.__name__)
        return [Edge(p, c, tuple(dict.fromkeys(kinds)), o) for (p, c, o), kinds in found.items()]

    def unrouted(self) -> list[Edge]:
        """Type matches the router never delivers: a stage wanting what only a later stage makes."""
        found: dict[tuple[str, str, bool], list[str]] = {}
        for i, stage in enumerate(self.stages):
            for later in self.stages[i:]:
                for kind in later.produces:
                    if _matches(kind, stage.consumes):  # observed types reach a stage wherever they are made
                        found.setdefault((later.name, stage.name, False), []).append(kind.__name__)
        return [Edge(p, c, tuple(dict.fromkeys(kinds)), o) for (p, c, o), kinds in found.items()]

    def problems(self) -> list[str]:
        """One line per fault: a product nobody consumes, a cycle, a stage whose inputs nobody makes first."""
        edges = self.edges()
        out: list[str] = []
        names = [s.name for s in self.stages]
        if len(set(names)) != len(names):
            out.append(f"stage names must be unique, got {names}")
        carried = {(e.producer, k) for e in edges for k in e.products}
        for name, produces, _ in self._entries():
            for kind in produces:
                if (name, kind.__name__) not in carried:
                    out.append(f"stage {name}: produces {kind.__name__} but no later stage or output consumes it")
        cycle = self.cycle()
        if cycle:
            out.append(f"stage {cycle[0]}: in a cycle {' -> '.join(cycle)}")
        fed = {e.consumer for e in edges if not e.observes}
        for i, stage in enumerate(self.stages):
            if stage.consumes and stage.name not in fed:
                later = [s.name for s in self.stages[i + 1:] if any(_matches(k, stage.consumes) for k in s.produces)]
                hint = f" (only {', '.join(later)} after it does)" if later else ""
                out.append(f"stage {stage.name}: consumes {_names(stage.consumes)} but no source or stage before "
                           f"it produces any of them{hint}")
        return out

    def cycle(self) -> list[str]:
        """A cycle among the stages by product type (order aside; ``observes`` not counted), else []."""
        after = {s.name: [t.name for t in self.stages if any(_matches(k, t.consumes) for k in s.produces)]
                 for s in self.stages}
        state: dict[str, int] = {}

        def visit(node: str, path: list[str]) -> list[str]:
            state[node] = 1
            for nxt in after.get(node, []):
                if state.get(nxt) == 1:
                    return [*path[path.index(nxt):], nxt]
                if nxt not in state:
                    found = visit(nxt, [*path, nxt])
                    if found:
                        return found
            state[node] = 2
            return []

        for s in self.stages:
            if s.name not in state:
                found = visit(s.name, [s.name])
                if found:
                    return found
        return []

    def check(self) -> None:
        """Raise :class:`DataflowError` naming each problem."""
        problems = self.problems()
        if problems:
            raise DataflowError(problems)


def source_products(spec: SourceSpec | None) -> tuple[type, ...]:
    """What a source kind yields: its declared ``produces``, else any product (a plugin that does not say)."""
    return (spec.produces if spec is not None else ()) or PRODUCT_TYPES


def _spec(table: Mapping[str, StageSpec], name: str, thread: str, problems: list[str]) -> StageSpec | None:
    spec = table.get(f"{name} [{thread}]")
    if spec is None:
        problems.append(f"stage {name}: no StageSpec registered for thread model {thread!r} (rsu_register_stages)")
    return spec


def _detector_thread(cfg: Any, cameras: int) -> str:
    """The detector's thread model from the config alone (the model's batch assumed dynamic)."""
    from rsu.app.muxed_detector import batch_plan

    dcfg = cfg.models.detector
    provider = "CPUExecutionProvider" if str(dcfg.providers[0]).lower() in ("cpu", "cpuexecutionprovider") \
        else "accelerator"
    return "batch worker" if batch_plan(dcfg, None, cameras, dcfg.model, provider) else "latest-value worker"


def plan(cfg: Any, table: Mapping[str, StageSpec], sources: Mapping[str, SourceSpec], *,
         models: Sequence[str] = (), threads: Mapping[str, str] | None = None) -> Dataflow:
    """The dataflow ``cfg`` builds, from the registered stage and source specs, without starting anything.

    :param models: the model names the enabled plugins register (fault prediction runs only with its model).
    :param threads: thread models the running box has (:func:`running_threads`), over what the config implies.
    :raises DataflowError: a stage the config needs has no spec.
    """
    from rsu.app.fault_setup import has_plant_readings
    from rsu.config.fault import FaultPredictionConfig
    from rsu.pipeline.assemble import wants_fusion

    threads = dict(threads or {})
    missing: list[str] = []
    enabled = [s for s in cfg.sources if s.enabled]
    producers = [Producer(s.id, source_products(sources.get(s.type)), f"source ({s.type})") for s in enabled]
    producers.append(Producer("box", (HealthEvent,), "box"))
    stages: list[StageSpec | None] = []
    cameras = sum(1 for s in enabled if s.type == "camera")
    if cameras:
        spec = _spec(table, "detector", threads.get("detector") or _detector_thread(cfg, cameras), missing)
        if spec is not None and cfg.pipeline.adaptive_rate.enabled:
            from rsu_sdk import ObjectList

            spec = dataclasses.replace(spec, observes=(*spec.observes, ObjectList))
        stages.append(spec)
    fc = cfg.fault_prediction or FaultPredictionConfig()
    fault = fc.enabled and has_plant_readings(cfg) and fc.model in models
    operators = [op for op in OPERATOR_SPECS if (op.name == "fusion" and wants_fusion(cfg))
                 or (op.name == "fault_prediction" and fault and fc.mode == "operator")]
    if fault and fc.mode != "operator":
        stages.append(_spec(table, "fault_prediction", "batch worker" if fc.mode == "worker" else "inline", missing))
    if operators:
        spec = _spec(table, "operators", "inline", missing)
        if spec is not None:
            spec = dataclasses.replace(
                spec, consumes=tuple(dict.fromkeys(k for op in operators for k in op.consumes)),
                produces=tuple(dict.fromkeys(k for op in operators for k in op.produces)),
                description=f"{spec.description}: {', '.join(op.name for op in operators)} ({cfg.runner})")
        stages.append(spec)
    if cfg.power.enabled:
        stages.append(_spec(table, "power", "inline", missing))
    wanted = ["publisher", *(["kafka"] if cfg.publish.kafka is not None else []),
              *(["plugins"] if cfg.plugins.enabled else []), *(["web"] if cfg.web.enabled else []), "heartbeat"]
    outputs = [next((s for s in table.values() if s.output and s.name == name), None) for name in wanted]
    missing += [f"output {n}: no StageSpec registered (rsu_register_stages)" for n, o in zip(wanted, outputs) if o is None]
    if missing:
        raise DataflowError(missing)
    return Dataflow(producers, [s for s in stages if s is not None], [o for o in outputs if o is not None])


def _chain(stage: Any) -> list[Any]:
    """``stage`` and every stage it wraps (``.stage``)."""
    out = [stage]
    while hasattr(out[-1], "stage") and len(out) < 16:
        out.append(out[-1].stage)
    return out


def running_threads(box: Any) -> dict[str, str]:
    """Stage name -> thread model of the box's worker stages (a wrapper may say ``thread_model``)."""
    out: dict[str, str] = {}
    for node in box.graph.nodes:
        if node.offer is not None:
            declared = [m for m in (getattr(s, "thread_model", None) for s in _chain(node.stage)) if m]
            out[node.name] = declared[0] if declared else "latest-value worker"
    return out


def check_box(box: Any, flow: Dataflow) -> None:
    """Raise :class:`DataflowError` unless ``box`` runs exactly ``flow``'s stages, in order, each consuming what
    its spec says (so the router's ``issubclass`` routes are the computed edges), and ``flow`` is sound."""
    problems: list[str] = []
    running = [n.name for n in box.graph.nodes]
    planned = [s.name for s in flow.stages]
    if running != planned:
        problems.append(f"the box runs stages {running} but the specs give {planned}")
    for node, spec in zip(box.graph.nodes, flow.stages, strict=False):
        observed = tuple(getattr(node.stage, "observes", ()))
        if node.name == spec.name and set(node.stage.handles) != set(spec.consumes):
            problems.append(f"stage {node.name}: handles {_names(node.stage.handles)} but its spec consumes "
                            f"{_names(spec.consumes) or 'nothing'}")
        if node.name == spec.name and set(observed) != set(spec.observes):
            problems.append(f"stage {node.name}: observes {_names(observed) or 'nothing'} but its spec observes "
                            f"{_names(spec.observes) or 'nothing'}")
        allowed = ("inline", "batch worker") if node.offer is None else ("latest-value worker", "batch worker")
        if node.name == spec.name and spec.thread not in allowed:
            problems.append(f"stage {node.name}: runs {'inline' if node.offer is None else 'as a worker'} "
                            f"but its spec says {spec.thread}")
    problems += flow.problems()
    if problems:
        raise DataflowError(problems)


def box_dataflow(cfg: Any, box: Any, pm: Any, sources: Mapping[str, SourceSpec]) -> Dataflow:
    """The checked dataflow of a built ``box`` (:func:`plan` with its running thread models, then
    :func:`check_box`), from what the plugins in ``pm`` register; raises :class:`DataflowError`."""
    from rsu.plugins.registry import collect_models, collect_stages

    flow = plan(cfg, collect_stages(pm), sources, models=list(collect_models(pm)), threads=running_threads(box))
    check_box(box, flow)
    return flow
