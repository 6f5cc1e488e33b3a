"""The plugin host's health: a plugin that takes nothing from its queue for a while is stalled; a disabled one
still publishes its health."""

from __future__ import annotations

from plugin_host_helpers import Blocking, Recorder, object_lists
from rsu_sdk import hookimpl
from rsu_sdk.testing import DEFAULT_SITE, RecordingPublisher

from rsu.plugins import PluginHost, create_plugin_manager


class _Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_a_plugin_that_leaves_its_queue_untaken_shows_stalled_until_it_takes_again() -> None:
    slow, fast = Blocking(), Recorder(expect=10)
    loaded = create_plugin_manager(["slow", "fast"], extra_plugins=[("slow", slow), ("fast", fast)])
    host = PluginHost(loaded, site=DEFAULT_SITE, publisher=RecordingPublisher(), queue_size=2, stall_after_s=30)
    clock = _Clock()
    host.workers["slow"]._clock = clock  # the worker's monotonic clock, injected
    host.start()
    cycles = object_lists(10)
    host.dispatch(cycles[0])
    assert slow.entered.wait(10)
    for i, cycle in enumerate(cycles[1:], start=2):
        host.dispatch(cycle)  # the newest waits in the slow plugin's queue (the rest superseded), untaken
        assert fast.wait_for(i)
    assert host.stats()["slow"]["status"] == "running"  # full, but not yet for stall_after_s
    clock.t += 29.9
    assert host.stats()["slow"]["status"] == "running"
    clock.t += 0.2
    stats = host.stats()
    assert stats["slow"]["status"] == "stalled" and stats["slow"]["stalls"] == 1
    assert stats["fast"]["status"] == "running"
    from rsu.app.box_health import box_components  # the heartbeat's mapping: stalled is degraded

    class _Box:  # only what box_components reads of a box with no sources
        sources: list = []
        source_services: list = []

        class stats:  # noqa: N801
            stale: dict = {}

            @staticmethod
            def summary() -> dict:
                return {"drops": {}, "stale": {}, "late_events": {}, "latency_event_to_publish": {}}

        class lanes:  # noqa: N801
            @staticmethod
            def stats() -> dict:
                return {}

        @staticmethod
        def router_alive() -> bool:
            return True

    rows = {r[1]: r for r in box_components(_Box(), host)}
    assert rows["plugin:slow"][0] == "plugin.slow" and rows["plugin:slow"][2] == "degraded"
    assert host.stats()["slow"]["stalls"] == 1  # counted once per stall
    slow.release.set()  # it takes from its queue again
    assert host.wait_idle(30)
    assert host.stats()["slow"]["status"] == "running"
    host.stop()


def test_a_disabled_plugin_publishes_its_health_on_a_valid_topic() -> None:
    import json

    import zmq

    from rsu.config.publish import ZmqConfig
    from rsu.publish.schemas import validate
    from rsu.publish.zmq_publisher import ZmqPublisher

    class BadStart:
        @hookimpl
        def rsu_on_start(self, context):
            raise OSError("device missing")

    pub = ZmqPublisher(DEFAULT_SITE.name, ZmqConfig(endpoint="tcp://127.0.0.1:*", linger_ms=0))
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(pub.endpoint)
    try:
        assert pub.wait_for_subscribers(1, timeout=60)
        loaded = create_plugin_manager(["bad_start"], extra_plugins=[("bad_start", BadStart())])
        host = PluginHost(loaded, site=DEFAULT_SITE, publisher=pub)
        host.start()
        assert sub.poll(60_000)
        topic, payload = sub.recv_multipart()
        host.stop()
    finally:
        sub.close(0)
        pub.close(0)
        ctx.term()
    msg = json.loads(payload)
    assert topic.decode() == f"rsu/{DEFAULT_SITE.name}/health/plugin.bad_start"
    assert msg["component"] == "plugin:bad_start" and msg["status"] == "down" and validate(msg) == []
    assert pub.stats()["invalid"] == 0
