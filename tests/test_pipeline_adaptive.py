"""Adaptive detector rate, the ingest queue's drop policies, and the pipeline config section."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from rsu_sdk import FusedObject, ObjectList, SensorReading

from rsu.app.box import Box
from rsu.config.pipeline import AdaptiveRateConfig, PipelineConfig
from rsu.pipeline.adaptive import AdaptiveRate, RateLimitedStage

T0 = 1_767_225_600_000_000_000


def objects(n: int) -> ObjectList:
    obj = FusedObject(track_id=1, position_enu=(0, 0, 0), velocity_enu=(0, 0), heading_deg=0, class_name="car",
                      confidence=0.9, lat=0.0, lon=0.0)
    return ObjectList(source="fusion", t_event_ns=T0, objects=(obj,) * n)


def test_rate_follows_density_with_hysteresis_and_cpu_load() -> None:
    now = [0.0]
    rate = AdaptiveRate(AdaptiveRateConfig(), clock=lambda: now[0])
    assert rate.rate_hz == 5.0
    assert rate.observe_objects(6) == 10.0          # busy
    assert rate.observe_objects(3) == 10.0          # between the thresholds: stays busy
    assert rate.observe_objects(1) == 5.0           # quiet
    rate.observe_objects(8)
    for t in range(0, 12):                          # CPU above 80 % for 5 s, twice
        now[0] = float(t)
        rate.observe_cpu(95.0)
    assert rate.rate_hz == 2.5 and rate.counts["cpu_down"] == 2
    for t in range(12, 20):                         # load falls: one step back up after 5 s
        now[0] = float(t)
        rate.observe_cpu(20.0)
    assert rate.rate_hz == 5.0 and rate.counts["cpu_up"] == 1
    assert rate.counts["changes"] == len(rate.changes) == 6


def test_rate_limited_stage_admits_frames_at_the_rate() -> None:
    class Det:
        name, handles = "detector", (SensorReading,)

        def process(self, p):  # noqa: ANN001, ANN201
            return [p]

        def stats(self):  # noqa: ANN201
            return {}

    stage = RateLimitedStage(Det(), AdaptiveRate(AdaptiveRateConfig()))
    frames = [SensorReading(source="cam", t_event_ns=T0 + i * 50_000_000, device="d", values={}) for i in range(20)]
    admitted = sum(len(stage.process(f)) for f in frames)   # 20 Hz in, 5 Hz quiet -> every 4th
    assert admitted == 5 and stage.counts["skipped"] == 15
    stage.observe(objects(9))                               # busy -> 10 Hz
    more = [SensorReading(source="cam", t_event_ns=T0 + (20 + i) * 50_000_000, device="d", values={})
            for i in range(20)]
    assert sum(len(stage.process(f)) for f in more) == 10


def test_the_rate_learns_density_from_the_object_lists_fusion_makes_after_the_detector() -> None:
    """The router only goes forward, and fusion runs after the detector: the rate limiter observes ObjectLists
    wherever they are made."""
    from rsu.app.graph import Graph, Node
    from rsu.core.stage import BaseStage

    class Det(BaseStage):
        name, handles = "detector", (SensorReading,)

        def process(self, p):  # noqa: ANN001, ANN201
            return []

    class Fuse(BaseStage):
        name, handles = "operators", (SensorReading,)

        def process(self, p):  # noqa: ANN001, ANN201
            return [objects(9)]

    rate = AdaptiveRate(AdaptiveRateConfig())
    limited = RateLimitedStage(Det(), rate)
    delivered: list[str] = []
    graph = Graph([Node(limited), Node(Fuse())], lambda p, origin: delivered.append(type(p).__name__),
                  on_error=lambda *a: pytest.fail(f"stage failed: {a}"), on_count=lambda *a: None)
    assert limited.handles == (SensorReading,) and limited.observes == (ObjectList,)
    graph.route(SensorReading(source="cam", t_event_ns=T0, device="d", values={}), "source:cam", 0)
    assert rate.busy and rate.rate_hz == 10.0 and rate.counts["to_busy"] == 1
    assert delivered.count("ObjectList") == 1  # observed, still delivered once to the outputs


class _Sink:
    def deliver(self, product, origin=""): ...  # noqa: ANN001, ANN201
    def stop_plugins(self): ...  # noqa: ANN201
    def close(self): ...  # noqa: ANN201
    def stats(self):  # noqa: ANN201
        return {}


@pytest.mark.parametrize("policy", ["drop_newest", "drop_oldest"])
def test_full_ingest_queue_drops_by_policy(policy: str) -> None:
    box = Box(sources=[], sink=_Sink(), queue_size=3, drop_policy=policy)  # not started: the queue fills
    items = [SensorReading(source="s", t_event_ns=T0 + i, device="d", values={}) for i in range(5)]
    for it in items:
        box.ingest(it)
    kept = [env.product.t_event_ns - T0 for env in box.pending()]
    assert box.stats.drops["ingest.SensorReading"] == 2
    assert kept == ([0, 1, 2] if policy == "drop_newest" else [2, 3, 4])


def test_pipeline_config_validates() -> None:
    cfg = PipelineConfig.model_validate({"out_of_orderness_ms": 100, "queue": {"drop_policy": "drop_oldest"},
                                         "flink": {"address": "127.0.0.1:8081", "parallelism": 2}})
    assert cfg.flink.address == "127.0.0.1:8081" and cfg.batching.max_batch == 32
    with pytest.raises(ValidationError, match="drop_policy"):
        PipelineConfig.model_validate({"queue": {"drop_policy": "block"}})
    with pytest.raises(ValidationError, match="address"):
        PipelineConfig.model_validate({"flink": {"address": "nohostport"}})
    with pytest.raises(ValidationError, match="hysteresis"):
        PipelineConfig.model_validate({"adaptive_rate": {"busy_objects": 1, "quiet_objects": 3}})
