"""A demo-like box for the web tests: the real vtest.avi video through the real detector, a simulated
intersection replayed through the real ARS408 decoder and fused, plant and air-station replays, plugins;
served by the box's web server on an ephemeral port (run it with ``support.running_box``)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from rsu.assetfetch.fetch import fetch_all
from rsu.assets.paths import assets_dir


def demo_like_config(tmp: Path, *, plant: bool = True) -> dict[str, Any]:
    """Simulate the recorded inputs into ``tmp`` and return the config of a box that replays them."""
    from rsu.sim import get_simulator

    video = fetch_all(assets_dir()) / "data" / "vtest.avi"
    get_simulator("intersection")(tmp / "intersection", 30.0, 0)
    recorded = yaml.safe_load((tmp / "intersection" / "config.yaml").read_text())
    sources: list[dict[str, Any]] = [
        {"id": "cam-vtest", "type": "camera", "url": str(video), "loop": True},
        {"id": "intersection", "type": "replay", "path": str(tmp / "intersection"), "speed": 1.0, "loop": True,
         "rebase_time": True},
    ]
    plugins: dict[str, Any] = {"enabled": ["traffic_broadcast"],
                               "traffic_broadcast": {"radio": {"host": "127.0.0.1", "port": 9}}}
    if plant:
        get_simulator("furnace")(tmp / "furnace", 300.0, 7)
        get_simulator("air-station")(tmp / "air-station", 300.0, 3)
        sources += [
            {"id": "furnaces", "type": "sensor_replay", "path": str(tmp / "furnace"), "speed": 20.0, "loop": True,
             "rebase_time": True},
            {"id": "air", "type": "air_station",
             "replay": {"path": str(tmp / "air-station"), "speed": 20.0, "loop": True, "rebase_time": True}},
        ]
        plugins["enabled"] += ["furnace_fault", "dust_control"]
        plugins["furnace_fault"] = {}
        plugins["dust_control"] = {
            "stations": [{"id": "aq-1", "position": [0, 0]}, {"id": "aq-2", "position": [150, 40]}],
            "sprayers": [{"id": "spr-a", "position": [10, 15],
                          "modbus": {"host": "127.0.0.1", "port": 9, "unit": 1, "coil": 0}}],
        }
    return {
        "version": 1,
        "site": {"name": "webtest", "lat": 48.1374, "lon": 11.5755, "alt": 520.0},
        "sources": sources,
        "models": {"detector": {"model": "nanodet-m", "providers": ["cpu"], "threads": 1}},
        "fusion": recorded["fusion"],
        "pipeline": {"checkpoint": {"dir": str(tmp / "checkpoints")}},
        "publish": {"zmq": {"endpoint": "tcp://127.0.0.1:*"}},
        "plugins": plugins,
        "web": {"enabled": True, "host": "127.0.0.1", "port": 0, "frame_fps": 10},
    }


def get(url: str, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of a GET; HTTP errors are returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def get_json(url: str) -> tuple[int, Any]:
    status, _, body = get(url)
    return status, json.loads(body)
