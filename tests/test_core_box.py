"""The real box end to end: a burst of safety products under full-rate sources, the heartbeat, forward routing,
stale shedding with an injected clock, and a crashing source restarted with backoff."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from rsu_sdk import Alarm, HealthEvent, Prediction, Product, SensorReading, hookimpl

from rsu.app.box import Box
from rsu.config import parse_config
from rsu.core.clock import ManualClock
from rsu.core.lanes import InputPolicy
from rsu.core.stage import BaseStage
from support import Subscriber, running_box, wait_until

T0 = 1_767_225_600_000_000_000
SITE = {"name": "core-test", "lat": 48.137, "lon": 11.575}


class Burst:
    """Emits ``n`` alarms in one burst from a plugin worker, once the test says go."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.go = threading.Event()
        self.done = False
        self.context: Any = None

    @hookimpl
    def rsu_on_start(self, context):  # noqa: ANN001, ANN201
        self.context = context

    @hookimpl
    def rsu_on_objects(self, objects):  # noqa: ANN001, ANN201
        if self.done or not self.go.is_set():
            return
        self.done = True
        for i in range(self.n):
            self.context.emit(Alarm(source="burst", t_event_ns=time.time_ns(), device=f"dev-{i:05d}",
                                    kind="fault", active=True, severity="warning", message=str(i)))


@pytest.mark.slow
def test_a_burst_of_10000_alarms_is_published_in_order_while_sources_run_at_full_rate(tmp_path: Path) -> None:
    from rsu.sim.intersection import simulate

    simulate(tmp_path / "rec", seconds=60, seed=1)
    cfg = parse_config({
        "site": SITE,
        "sources": [{"id": "replay", "type": "replay", "path": str(tmp_path / "rec"), "speed": 0, "loop": True,
                     "rebase_time": True},
                    {"id": "live", "type": "replay", "path": str(tmp_path / "rec"), "speed": 1, "loop": True,
                     "rebase_time": True}],
        "fusion": parse_fusion(tmp_path / "rec"),
        "publish": {"zmq": {"endpoint": "tcp://127.0.0.1:*"}, "health_interval_s": 0.2},
        "pipeline": {"checkpoint": {"enabled": False}},
        "plugins": {"enabled": ["burst"]},
    })
    burst = Burst(10_000)
    with running_box(cfg, tmp_path, extra_plugins=[("burst", burst)]) as built, \
            Subscriber(built.endpoint, f"rsu/{SITE['name']}/") as sub:
        wait_until(lambda: sub.of("rsu.health/1"), 60, "the first heartbeat (subscription up)")
        burst.go.set()
        sub.wait_for_count(10_000, schema="rsu.fault.alarm/1", timeout=300, what="10,000 alarms")
        built.box.stop()
    alarms = sub.of("rsu.fault.alarm/1")
    assert [a["device"] for a in alarms] == [f"dev-{i:05d}" for i in range(10_000)]
    seqs = [a["seq"] for a in alarms]
    assert seqs == list(range(seqs[0], seqs[0] + 10_000))  # contiguous: none lost on the wire
    summary = built.summary()
    assert summary["stages"]["routed"]["Alarm"] == 10_000
    assert summary["stages"]["routed"].get("ObjectList", 0) > 0  # the sources ran meanwhile


def parse_fusion(recording: Path) -> dict[str, Any]:
    import yaml

    return yaml.safe_load((recording / "config.yaml").read_text())["fusion"]


def test_heartbeat_reports_every_source_the_plugins_and_the_box_on_an_interval(tmp_path: Path) -> None:
    from rsu.sim.intersection import simulate

    simulate(tmp_path / "rec", seconds=5, seed=2)
    cfg = parse_config({
        "site": SITE,
        "sources": [{"id": "replay", "type": "replay", "path": str(tmp_path / "rec"), "loop": True,
                     "rebase_time": True}],
        "fusion": parse_fusion(tmp_path / "rec"),
        "publish": {"zmq": {"endpoint": "tcp://127.0.0.1:*"}, "health_interval_s": 0.1},
        "pipeline": {"checkpoint": {"enabled": False}},
    })
    with running_box(cfg, tmp_path) as built, Subscriber(built.endpoint, f"rsu/{SITE['name']}/health") as sub:
        wait_until(lambda: sum(1 for m in sub.of("rsu.health/1") if m["component"] == "source:replay") >= 3
                   and any(m["component"] == "box" for m in sub.of("rsu.health/1")), 60, "three heartbeats")
    beats = [m for m in sub.of("rsu.health/1") if m.get("heartbeat")]
    replay = [m for m in beats if m["component"] == "source:replay"]
    assert replay[-1]["status"] in ("ok", "degraded") and "details" in replay[-1]
    assert all(m["t_event"] <= m["t_publish"] for m in beats)
    topics = {m.topic for m in sub.messages if m.payload.get("component") == "source:replay"}
    assert topics == {f"rsu/{SITE['name']}/health/replay"}


# -- the graph, freshness and restarts on a Box with an injected clock -----------------------------------------

class ListSink:
    def __init__(self) -> None:
        self.got: list[tuple[Product, str]] = []

    def deliver(self, product: Product, origin: str) -> None:
        self.got.append((product, origin))

    def stop_plugins(self) -> None: ...

    def close(self) -> None: ...

    def stats(self) -> dict[str, Any]:
        return {}


class Predict(BaseStage):
    """Consumes readings and predictions; makes one prediction per reading."""

    name = "predict"
    handles = (SensorReading, Prediction)

    def __init__(self) -> None:
        self.seen: list[type] = []
        self.gate = threading.Event()
        self.gate.set()

    def process(self, product: Product) -> list[Product]:
        self.gate.wait(30)
        self.seen.append(type(product))
        if isinstance(product, SensorReading):
            return [Prediction(source="predict", t_event_ns=product.t_event_ns, device=product.device,
                               score=0.5, model="m")]
        return []


class CountAfter(BaseStage):
    name = "after"
    handles = (Prediction,)

    def __init__(self) -> None:
        self.n = 0

    def process(self, product: Product) -> list[Product]:
        self.n += 1
        return []


class ListSource:
    def __init__(self, id: str, products: list[Product], crash_times: int = 0) -> None:
        self.id, self.products, self.crash_times = id, products, crash_times
        self.runs = 0

    def run(self, emit: Any, stop: threading.Event) -> None:
        self.runs += 1
        if self.runs <= self.crash_times:
            raise RuntimeError(f"bad sector {self.runs}")
        for p in self.products:
            emit(p)

    def stats(self) -> dict[str, Any]:
        return {"runs": self.runs}


def readings(n: int, source: str = "plant") -> list[Product]:
    return [SensorReading(source=source, t_event_ns=T0 + i, device="d", values={"x": 1.0}) for i in range(n)]


def test_stage_outputs_go_forward_never_back_to_the_stage_that_made_them() -> None:
    first, after, sink = Predict(), CountAfter(), ListSink()
    box = Box(sources=[ListSource("plant", readings(50))], sink=sink, inline_stages=[first, after])
    box.run()
    assert first.seen == [SensorReading] * 50  # its own predictions never came back to it
    assert after.n == 50
    kinds = [type(p).__name__ for p, _ in sink.got]
    assert kinds.count("Prediction") == 50 and kinds.count("SensorReading") == 50
    assert {o for p, o in sink.got if isinstance(p, Prediction)} == {"stage:predict"}


def test_inputs_older_than_the_sources_maximum_age_are_shed_newest_wins() -> None:
    clock = ManualClock()
    stage, sink = Predict(), ListSink()
    stage.gate.clear()  # the router is stuck in the stage: inputs queue up
    source = ListSource("plant", [])
    box = Box(sources=[source], sink=sink, inline_stages=[stage], clock=clock,
              input_policies={"plant": InputPolicy(max_age_ns=200_000_000, capacity=1_000)})
    box.start()
    emit = box.source_services[0]._emit
    for i in range(101):  # each read as it happens: event time = the box's clock
        emit(SensorReading(source="plant", t_event_ns=clock.wall_ns(), device="d", values={"x": float(i)}))
        clock.advance(0.01)  # 10 ms apart: 1 s of inputs while the router is stuck on the first
    clock.advance(0.0)
    stage.gate.set()
    assert box.drain(30)
    box.stop()
    processed = [p.values["x"] for p, _ in sink.got if isinstance(p, SensorReading)]
    stale = sum(box.stats.stale.values())
    assert processed[-1] == 100 and stale >= 70  # only the last ~200 ms of inputs were still fresh
    assert len(processed) + stale == 101  # nothing else lost


def test_a_crashing_source_is_restarted_with_backoff_and_reported() -> None:
    sink = ListSink()
    source = ListSource("flaky", readings(3, "flaky"), crash_times=2)
    box = Box(sources=[source], sink=sink, restart_backoff_s=0.01)
    box.run()
    assert source.runs == 3
    downs = [p for p, _ in sink.got if isinstance(p, HealthEvent)]
    assert [d.status for d in downs] == ["down", "down"] and "bad sector 1" in downs[0].message
    assert [p.t_event_ns - T0 for p, _ in sink.got if isinstance(p, SensorReading)] == [0, 1, 2]
    assert box.summary()["sources"]["flaky"]["service"]["restarts"] == 2


def test_readiness_says_so_while_a_crashed_source_waits_for_its_restart() -> None:
    from rsu.metrics.health import readiness

    class Dies:
        id = "dies"

        def __init__(self) -> None:
            self.runs = 0

        def run(self, emit: Any, stop: threading.Event) -> None:
            self.runs += 1
            raise RuntimeError("bus gone")

        def stats(self) -> dict[str, Any]:
            return {"up": True}

    box = Box(sources=[Dies()], sink=ListSink(), restart_backoff_s=3600.0)
    box.start()
    try:
        wait_until(lambda: box.source_services[0].state == "restarting", 30, "the crash")
        check = readiness(box)
        assert not check.ok and check.checks["sources"] == {"crashed, restarting": ["dies"]}
    finally:
        box.stop()
