"""``CallbackService.stop`` honours its deadline: a stop callable that hangs does not hold up the caller (nor the
services stopped after it), is counted, and finishes in the background; one that fails in time raises."""

from __future__ import annotations

import threading
import time

import pytest

from rsu.core.lifecycle import CallbackService, ServiceStack
from support import wait_until


def test_a_hanging_stop_returns_at_the_deadline_and_is_counted() -> None:
    release, finished = threading.Event(), threading.Event()

    def hang() -> None:
        release.wait(120)
        finished.set()

    service = CallbackService("hangs", on_stop=hang)
    service.stop(time.monotonic())  # the deadline has passed: stop must not wait for the callable
    assert not finished.is_set() and service.stop_overran == 1
    assert service.stats() == {"stop_overran": 1}
    release.set()
    wait_until(finished.is_set, 60, "the stop to finish in the background")


def test_the_services_after_a_hanging_one_still_stop() -> None:
    release, order = threading.Event(), []
    stack = ServiceStack()
    stack.add(CallbackService("first", on_stop=lambda: order.append("first")))
    stack.add(CallbackService("hangs", on_stop=lambda: release.wait(120)))
    stack.start()
    try:
        stack.stop(time.monotonic())
        assert order == ["first"]  # reached although "hangs" never returned
    finally:
        release.set()


def test_a_stop_that_fails_in_time_raises_and_one_that_succeeds_is_quiet() -> None:
    def boom() -> None:
        raise OSError("socket gone")

    with pytest.raises(OSError, match="socket gone"):
        CallbackService("fails", on_stop=boom).stop(time.monotonic() + 3600)
    done: list[int] = []
    ok = CallbackService("ok", on_stop=lambda: done.append(1))
    ok.stop(time.monotonic() + 3600)
    assert done == [1] and ok.stats() == {} and ok.stop_overran == 0
    CallbackService("nothing").stop(time.monotonic())  # no on_stop: nothing to wait for
