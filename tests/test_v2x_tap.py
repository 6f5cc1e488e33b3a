"""traffic_broadcast on a real ZeroMQ publisher, watched by ``rsu tap`` (a real subprocess) decoding CPMs."""

from __future__ import annotations

import importlib.metadata
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from rsu_sdk import ObjectList, PluginContext, SiteInfo
from rsu_sdk.factories import T0_NS, make_fused_object

from rsu.config.publish import ZmqConfig
from rsu.publish import ZmqPublisher
from rsu.publish.schemas import validate

MS = 1_000_000
SITE = SiteInfo(name="test-site", lat=48.0, lon=11.0, alt=500.0)


def _plugin_class() -> type:
    eps = [e for e in importlib.metadata.entry_points(group="rsu.plugins") if e.name == "traffic_broadcast"]
    if not eps:
        pytest.skip("the traffic_broadcast plugin is not installed")
    return eps[0].load()


@pytest.fixture()
def pub() -> Iterator[ZmqPublisher]:
    publisher = ZmqPublisher(SITE.name, ZmqConfig(endpoint="tcp://127.0.0.1:*"))
    yield publisher
    publisher.close(0)


def test_rsu_tap_prints_decoded_cpms(pub: ZmqPublisher, tmp_path: Path) -> None:
    plugin = _plugin_class()()
    proc = subprocess.Popen([sys.executable, "-m", "rsu", "tap", pub.endpoint, "--topic", "rsu/test-site/v2x/cpm",
                             "--count", "3", "--timeout", "60"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert pub.wait_for_subscribers(1, timeout=60), "rsu tap never subscribed"
        plugin.rsu_on_start(context=PluginContext(
            name="traffic_broadcast", site=SITE, config={"station_id": 31337},
            publisher=pub.scoped("traffic_broadcast"), emit=lambda product: None, logger=logging.getLogger("test")))
        for k in range(3):                                   # new, moved 6 m, moved 6 m again: 3 CPMs
            objs = (make_fused_object(1, position_enu=(6.0 * k, 0.0, 0.0)),
                    make_fused_object(2, class_name="pedestrian"))
            plugin.rsu_on_objects(objects=ObjectList(source="fusion", t_event_ns=T0_NS + k * 500 * MS, objects=objs))
        plugin.rsu_on_stop()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [m["topic"] for m in lines] == ["rsu/test-site/v2x/cpm"] * 3
    for k, msg in enumerate(lines):
        payload = msg["payload"]
        body = payload.pop("body")
        assert validate(payload) == [], validate(payload)
        assert payload["encoding"] == "cpm-uper" and payload["station_id"] == 31337
        assert body["header"] == {"protocolVersion": 2, "messageId": 14, "stationId": 31337}
        [objects] = [c["containerData"] for c in body["payload"]["cpmContainers"] if c["containerId"] == 5]
        by_id = {o["objectId"]: o for o in objects["perceivedObjects"]}
        assert list(by_id) == [[1, 2], [1], [2, 1]][k]       # at 1 s track 2 is refreshed (oldest first)
        assert by_id[1]["position"]["xCoordinate"]["value"] == 600 * k
        assert body["payload"]["managementContainer"]["referenceTime"] % 65536 == payload["generation_delta_time"]
