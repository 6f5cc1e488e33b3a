"""The dashboard in a real headless Chromium against a running demo-like box; the screenshot is kept.

Needs Debian's ``chromium`` (``apt-get install -y chromium``); skipped with the reason when it is absent.
The screenshot goes to the test's tmp folder and is copied to ``var/screenshots/dashboard.png``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from cdp_pipe import Chromium, find_chromium
from support import running_box, wait_until
from web_helpers import demo_like_config, get_json

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install -y "
                                                          "chromium)")


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("dash")
    with running_box(demo_like_config(tmp, plant=True), tmp, state_root=tmp / "state") as built:
        yield built


def test_dashboard_shows_live_frames_map_and_plugins(box: Any, tmp_path: Path, repo_root: Path) -> None:
    url = box.services.url
    # the box has something to show before the browser looks: fused objects and a detected frame
    wait_until(lambda: (lambda d: any(o["items"] for o in d["objects"])
                        and any(c["detections"] for c in d["cameras"] if c["has_images"]))(
        get_json(url + "api/state")[1]), 30, "fused objects and detections", interval=0.2)
    browser = Chromium(CHROMIUM, tmp_path / "profile")
    try:
        browser.call("Page.navigate", url=url)
        browser.wait_until("document.body.dataset.live === '1'", 30)
        # every camera card shows a decoded frame (a shown frame is only ever replaced by a decoded one)
        browser.wait_until("(c => c.length === 2 && c.every(i => i.naturalWidth > 0))("
                           "[...document.querySelectorAll('.cam img')])", 30)
        info = browser.evaluate("""JSON.stringify({
            cams: [...document.querySelectorAll('.cam h2')].map(e => e.textContent),
            imgs: [...document.querySelectorAll('.cam img')].map(i => [i.naturalWidth, i.naturalHeight]),
            plugins: [...document.querySelectorAll('#plugins tbody tr')].map(r => r.cells[0].textContent + '|'
                                                                             + r.cells[1].textContent),
            map: document.getElementById('map-info').textContent,
            live: document.getElementById('live-badge').textContent,
            ready: document.getElementById('ready-badge').textContent,
            tiles: document.querySelectorAll('.tile').length})""")
        shot = browser.screenshot(tmp_path / "dashboard.png")
    finally:
        browser.close()
    import json

    info = json.loads(info)
    assert sorted(info["cams"]) == ["cam-1", "cam-vtest"]
    assert sorted(info["imgs"]) == [[768, 576], [960, 540]]
    assert sorted(p.split(" ")[0] for p in info["plugins"]) == ["dust_control", "furnace_fault", "traffic_broadcast"]
    assert all(p.endswith("|running") for p in info["plugins"]), info["plugins"]
    assert "fused object" in info["map"] and not info["map"].startswith("0 ")
    assert info["live"] == "live" and info["ready"] == "ready" and info["tiles"] >= 10
    img = cv2.imread(str(shot))
    assert img.shape == (900, 1400, 3)
    assert float(np.std(img)) > 20  # not a blank page
    keep = repo_root / "var" / "screenshots"
    keep.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, keep / "dashboard.png")
