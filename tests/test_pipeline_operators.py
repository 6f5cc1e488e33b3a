"""The operator framework on the embedded runner: keyed state, watermarks, timers, late events, checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest

from rsu_sdk import HealthEvent, Prediction, SensorReading

from rsu.core.stats import RunStats
from rsu.pipeline.checkpoint import Checkpointer
from rsu.pipeline.embedded import EmbeddedRunner, fingerprint
from rsu.pipeline.operators import END_OF_INPUT, Operator, timer_ms
from rsu.pipeline.window_op import DeviceWindowOperator
from pipeline_helpers import CHANNELS, T0, assert_same_products, readings

MS = 1_000_000


def reading(device: str, t_ms: int, v: float = 1.0) -> SensorReading:
    return SensorReading(source="plant", t_event_ns=T0 + t_ms * MS, device=device, values={"v": v})


class Counter(Operator):
    """Counts per key (value state), keeps values (list state), emits at a timer 100 ms after each element."""

    name = "counter"
    handles = (SensorReading,)

    def key(self, element):  # noqa: ANN001
        return element.device

    def process(self, element, ctx):  # noqa: ANN001
        n = (ctx.value_state("n").value() or 0) + 1
        ctx.value_state("n").update(n)
        ctx.list_state("seen").add(element.values["v"])
        ctx.register_timer(ctx.timestamp_ns + 100 * MS)
        ctx.register_timer(END_OF_INPUT)
        return ()

    def on_timer(self, t_ns, ctx):  # noqa: ANN001
        seen = ctx.list_state("seen").get()
        return (HealthEvent(source=ctx.key, t_event_ns=min(t_ns, T0 + 10**12), component=f"n={len(seen)}",
                            status="ok", message="end" if t_ns == END_OF_INPUT else ""),)


def test_keyed_state_timers_and_end_of_input() -> None:
    stats = RunStats()
    runner = EmbeddedRunner([Counter()], out_of_orderness_ms=50, stats=stats)
    out = []
    for e in [reading("a", 0), reading("b", 10), reading("a", 20), reading("a", 200)]:
        out += [(o.source, o.component, o.t_event_ns) for o in runner.process(e)]
    # a@200 moves the watermark to 150 ms - 1 ns after it is processed: timers 100 (a), 110 (b), 120 (a) fire
    assert out == [("a", "n=3", T0 + 100 * MS), ("b", "n=1", T0 + 110 * MS), ("a", "n=3", T0 + 120 * MS)]
    late = reading("b", 5)  # behind the watermark: late, counted, still handed to the operator
    runner.process(late)
    assert stats.late["counter"] == 1 and runner.counts["counter"]["late"] == 1
    tail = runner.finish(end_of_input=True)
    assert [(o.source, o.component, o.message) for o in tail] == [
        ("b", "n=2", ""), ("a", "n=3", ""), ("a", "n=3", "end"), ("b", "n=2", "end")]
    assert runner.store.value_state("counter", "n", "a").value() == 3


def test_timer_resolution_is_milliseconds() -> None:
    assert timer_ms(T0 + 1) == T0 + MS
    assert timer_ms(T0) == T0
    assert timer_ms(END_OF_INPUT) == END_OF_INPUT


def test_operator_errors_are_counted_not_fatal() -> None:
    class Bad(Counter):
        def process(self, element, ctx):  # noqa: ANN001
            if element.values["v"] < 0:
                raise ValueError("bad reading")
            return super().process(element, ctx)

    runner = EmbeddedRunner([Bad()], out_of_orderness_ms=0)
    runner.process(reading("a", 0, -1.0))
    runner.process(reading("a", 1, 1.0))
    assert runner.counts["counter"]["errors"] == 1
    assert runner.store.value_state("counter", "n", "a").value() == 1


def test_duplicate_operator_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unique"):
        EmbeddedRunner([Counter(), Counter()])


def windows() -> DeviceWindowOperator:
    return DeviceWindowOperator(CHANNELS, window=20, stride=5)


def test_device_windows_emit_predictions_per_device() -> None:
    out = EmbeddedRunner([windows()]).run(readings(devices=3, samples=60))
    assert all(isinstance(p, Prediction) for p in out)
    # per device: first window at sample 20, then every 5 -> 20, 25, ..., 60 = 9 predictions
    assert sorted({p.device for p in out}) == ["dev-0", "dev-1", "dev-2"]
    assert len(out) == 3 * 9
    every = DeviceWindowOperator(CHANNELS, window=20, stride=1)
    out = EmbeddedRunner([every]).run(readings(devices=3, samples=60))
    faulty = [p.score for p in out if p.device == "dev-2"]
    assert max(faulty) > max(p.score for p in out if p.device == "dev-0") + 0.05


def test_checkpoint_restore_resumes_windows(tmp_path: Path) -> None:
    data = readings(devices=3, samples=120)
    whole = EmbeddedRunner([windows()]).run(data)
    ops = [windows()]
    first = EmbeddedRunner(ops, checkpointer=Checkpointer(tmp_path, fingerprint=fingerprint(ops)))
    part = first.run(data[:200], end_of_input=False)  # finish() without end of input: checkpoint only
    ops2 = [windows()]
    second = EmbeddedRunner(ops2, checkpointer=Checkpointer(tmp_path, fingerprint=fingerprint(ops2)))
    rest = second.run(data)  # the input replayed from its start: what was processed is skipped
    assert second.counts["runner"]["replayed_skipped"] == 200
    assert_same_products(part + rest, whole)


def test_checkpoint_files_rotate_and_a_torn_one_is_skipped(tmp_path: Path) -> None:
    ck = Checkpointer(tmp_path, keep=2, fingerprint="x")
    for i in range(4):
        ck.save({"i": i})
    files = sorted(tmp_path.glob("ckpt-*.pkl"))
    assert len(files) == 2
    files[-1].write_bytes(b"torn")
    assert Checkpointer(tmp_path, fingerprint="x").load_latest() == {"i": 2}
    assert Checkpointer(tmp_path, fingerprint="other").load_latest() is None


def test_checkpoint_of_another_state_version_is_not_restored(tmp_path: Path) -> None:
    data = readings(devices=3, samples=120)
    ops = [windows()]
    EmbeddedRunner(ops, checkpointer=Checkpointer(tmp_path, fingerprint=fingerprint(ops))).run(
        data[:200], end_of_input=False)
    newer = windows()
    newer.state_version = ops[0].state_version + 1  # the operator's state layout changed since
    fresh = EmbeddedRunner([newer], checkpointer=Checkpointer(tmp_path, fingerprint=fingerprint([newer])))
    out = fresh.run(data)
    assert fresh.counts["runner"].get("replayed_skipped", 0) == 0  # started from scratch, nothing skipped
    assert_same_products(out, EmbeddedRunner([windows()]).run(data))
