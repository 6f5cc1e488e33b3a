"""hazard_warning on a real ZeroMQ publisher, watched by ``rsu tap`` (a real subprocess) decoding DENMs
(``denm-uper``) into their JSON form; headers validate against ``rsu.v2x.denm/1``."""

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

SITE = SiteInfo(name="test-site", lat=48.0, lon=11.0, alt=500.0)
ZONES = [{"id": "lane", "kind": "lane", "heading_deg": 90.0, "polygon": [[8, -3.5], [70, -3.5], [70, 0], [8, 0]]}]


def _plugin_class() -> type:
    eps = [e for e in importlib.metadata.entry_points(group="rsu.plugins") if e.name == "hazard_warning"]
    if not eps:
        pytest.skip("the hazard_warning plugin is not installed")
    return eps[0].load()


@pytest.fixture()
def pub() -> Iterator[ZmqPublisher]:
    publisher = ZmqPublisher(SITE.name, ZmqConfig(endpoint="tcp://127.0.0.1:*"))
    yield publisher
    publisher.close(0)


def test_rsu_tap_prints_decoded_denms(pub: ZmqPublisher, tmp_path: Path) -> None:
    plugin = _plugin_class()()
    proc = subprocess.Popen([sys.executable, "-m", "rsu", "tap", pub.endpoint, "--topic", "rsu/test-site/v2x/denm",
                             "--count", "3", "--timeout", "60"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert pub.wait_for_subscribers(1, timeout=60), "rsu tap never subscribed"
        plugin.rsu_on_start(context=PluginContext(
            name="hazard_warning", site=SITE, config={"station_id": 4242, "zones": ZONES, "cancel_repeat_s": 0},
            publisher=pub.scoped("hazard_warning"), emit=lambda product: None, logger=logging.getLogger("test")))
        for k in range(35):                       # stopped 0..2.9 s: new at 2.0 s, repeat at 3.0 s ...
            moving = k >= 29
            car = make_fused_object(5, position_enu=(30.0 + (0.8 * (k - 29) if moving else 0.0), -1.75, 0.0),
                                    velocity_enu=(8.0 if moving else 0.0, 0.0), lat=48.0, lon=11.0004)
            plugin.rsu_on_objects(objects=ObjectList(source="fusion", t_event_ns=T0_NS + k * 100_000_000,
                                                     objects=(car,)))
        plugin.rsu_on_stop()                      # ... and the cancellation 0.8 s after it moves
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [m["topic"] for m in lines] == ["rsu/test-site/v2x/denm"] * 3
    kinds = []
    for msg in lines:
        payload = msg["payload"]
        body = payload.pop("body")
        assert validate(payload) == [], validate(payload)
        assert payload["encoding"] == "denm-uper" and payload["station_id"] == 4242
        assert body["header"] == {"protocolVersion": 2, "messageId": 1, "stationId": 4242}
        mgmt = body["denm"]["management"]
        assert mgmt["actionId"] == {"originatingStationId": 4242, "sequenceNumber": 0}
        kinds.append(payload["transmission"])
        if payload["transmission"] == "cancel":
            assert mgmt["termination"] == "isCancellation" and set(body["denm"]) == {"management"}
        else:
            assert body["denm"]["situation"]["eventType"]["ccAndScc"] == {"stationaryVehicle94": 0}
    assert kinds == ["new", "repeat", "cancel"]
