"""A box killed mid-stream (SIGKILL) restarts from its last checkpoint: tracks and ids resume, and what it
publishes after the restart equals an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rsu.pipeline.assemble import operators_from_config
from rsu.pipeline.embedded import EmbeddedRunner
from pipeline_helpers import recording

CHILD = Path(__file__).with_name("pipeline_kill_child.py")


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


def _child(rec: Path, out: Path, ckpt: Path, speed: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(CHILD), str(rec), str(out), str(ckpt), str(speed)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_killed_box_resumes_tracks_from_checkpoint(tmp_path: Path) -> None:
    rec = tmp_path / "rec"
    cfg, products = recording(rec, seconds=10.0)
    whole = {o.t_event_ns: [[x.track_id, *x.position_enu[:2]] for x in o.objects]
             for o in EmbeddedRunner(operators_from_config(cfg)).run(products)}

    out1, out2, ckpt = tmp_path / "before.jsonl", tmp_path / "after.jsonl", tmp_path / "ckpt"
    proc = _child(rec, out1, ckpt, speed=2.0)  # 10 s of recording in 5 s
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (len(_lines(out1)) < 40 or not list(ckpt.glob("ckpt-*.pkl"))):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    before = _lines(out1)
    assert 40 <= len(before) < len(whole), "the kill must land mid-stream"

    proc = _child(rec, out2, ckpt, speed=0.0)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr[-2000:]
    stats = json.loads(stdout.strip().splitlines()[-1])
    assert stats["checkpoint"]["restored"] == 1 and stats["replayed_skipped"] > 0
    after = _lines(out2)
    assert after, "nothing published after the restart"
    # everything after the restart is what the uninterrupted run published at the same event time
    for doc in after:
        want = whole[doc["t"]]
        assert [o[0] for o in doc["objects"]] == [o[0] for o in want]
        assert [v for o in doc["objects"] for v in o[1:]] == pytest.approx([v for o in want for v in o[1:]], abs=1e-6)
    # nothing is missing: before + after cover the whole run
    assert {d["t"] for d in before} | {d["t"] for d in after} == set(whole)
    # tracks resumed: ids alive just before the kill are still reported, with the same id, after it
    ids_before = {o[0] for o in before[-1]["objects"]}
    ids_after = {o[0] for o in after[0]["objects"]}
    assert ids_before & ids_after
