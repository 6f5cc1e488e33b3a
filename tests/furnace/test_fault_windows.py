"""Keyed sliding windows (baseline deviations, stride, bad input, snapshot/restore) and dynamic batching."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from rsu_sdk import SensorReading

from rsu.pipeline.dynamic_batch import BatchPolicy, BatchQueue
from rsu.pipeline.windows import DeviceWindows, detrend

CH = ("a", "b", "c")


def reading(i: int, values, device: str = "d1") -> SensorReading:
    return SensorReading(source="t", t_event_ns=1_000_000_000 * (i + 1), device=device, values=dict(zip(CH, values)))


def test_stream_windows_equal_the_vectorised_detrend():
    x = np.random.default_rng(0).normal(size=(200, 3)) * [1, 10, 100] + [5, 50, 500]
    w = DeviceWindows(CH, window=20, tau_s=60.0)
    outs = [w.push(reading(i, x[i])) for i in range(200)]
    assert all(o is None for o in outs[:19]) and all(o is not None for o in outs[19:])
    d = detrend(x, 1.0, 60.0)
    for end in (19, 100, 199):
        np.testing.assert_allclose(outs[end], d[end - 19:end + 1], rtol=1e-5, atol=1e-4)
    raw = DeviceWindows(CH, window=5, tau_s=0.0)
    got = [raw.push(reading(i, x[i])) for i in range(5)][-1]
    np.testing.assert_allclose(got, x[:5], rtol=1e-6)


def test_devices_are_keyed_separately_and_stride_applies():
    w = DeviceWindows(CH, window=4, stride=3)
    due = {"d1": 0, "d2": 0}
    for i in range(12):
        for dev, offset in (("d1", 0.0), ("d2", 100.0)):
            out = w.push(reading(i, [i + offset] * 3, dev))
            if out is not None:
                due[dev] += 1
                assert out[-1, 0] == i + offset and out[0, 0] == i - 3 + offset
    assert due == {"d1": 3, "d2": 3}  # samples 4, 7, 10 of 12
    assert w.counts["windows"] == 6


def test_bad_readings_are_counted_and_skipped():
    w = DeviceWindows(CH, window=2, channel_map={"c": "c_alias"})
    assert w.push(reading(0, [1, 2, 3])) is None  # lacks c_alias
    ok = SensorReading(source="t", t_event_ns=2_000_000_000, device="d1", values={"a": 1, "b": 2, "c_alias": 3})
    nan = SensorReading(source="t", t_event_ns=3_000_000_000, device="d1",
                        values={"a": float("nan"), "b": 2, "c_alias": 3})
    assert w.push(ok) is None and w.push(nan) is None
    assert w.push(ok) is None  # same time again: out of order
    late = SensorReading(source="t", t_event_ns=4_000_000_000, device="d1", values={"a": 4, "b": 5, "c_alias": 6})
    assert w.push(late)[:, 2].tolist() == [3.0, 6.0]
    assert w.counts == {"readings": 5, "windows": 1, "missing_channels": 1, "not_finite": 1, "out_of_order": 1}


def test_snapshot_restore_continues_identically():
    x = np.random.default_rng(1).normal(size=(60, 3))
    a = DeviceWindows(CH, window=10, tau_s=30.0)
    for i in range(25):
        a.push(reading(i, x[i]))
    snap = json.loads(json.dumps(a.snapshot()))  # plain data survives JSON
    b = DeviceWindows(CH, window=10, tau_s=30.0)
    b.restore(snap)
    for i in range(25, 60):
        np.testing.assert_array_equal(a.push(reading(i, x[i])), b.push(reading(i, x[i])))
    with pytest.raises(ValueError, match="expected shape"):
        DeviceWindows(CH, window=11, tau_s=30.0).restore(snap)


@pytest.mark.parametrize(("queue_len", "size"), [(0, 1), (1, 1), (19, 1), (20, 2), (105, 10), (320, 32), (5000, 32)])
def test_default_policy(queue_len, size):
    assert BatchPolicy().size(queue_len) == size


def test_policy_is_configurable_and_validated():
    assert BatchPolicy(max_batch=8, divisor=2).size(100) == 8
    assert BatchPolicy(max_batch=8, divisor=2, min_batch=4).size(1) == 4
    with pytest.raises(ValueError):
        BatchPolicy(max_batch=0)


def test_queue_hands_out_dynamic_batches_and_drops_oldest():
    q: BatchQueue[int] = BatchQueue(capacity=50)
    for i in range(60):
        q.put(i)
    assert q.dropped == 10 and len(q) == 50
    assert q.take(0) == list(range(10, 15))  # 50 queued -> batch 5
    sizes = []
    while len(q):
        sizes.append(len(q.take(0)))
    assert sizes[0] == 4 and sizes[-1] == 1 and sum(sizes) == 45
    assert q.take(0.01) == []


def test_blocking_queue_loses_nothing():
    q: BatchQueue[int] = BatchQueue(capacity=8, block_when_full=True)
    got: list[int] = []

    def consume() -> None:
        while not (q.closed and not len(q)):
            got.extend(q.take(0.05))

    t = threading.Thread(target=consume)
    t.start()
    for i in range(500):
        q.put(i)
    q.close()
    t.join(5)
    assert got == list(range(500)) and q.dropped == 0
