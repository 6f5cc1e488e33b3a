"""A box killed mid-stream (SIGKILL) restarts from its last checkpoint: tracks and ids resume, and what it
publishes after the restart equals an uninterrupted run."""

from __future__ import annotations

from pathlib import Path

import pytest

from rsu.pipeline.assemble import operators_from_config
from rsu.pipeline.embedded import EmbeddedRunner
from pipeline_helpers import kill_then_restart, recording

CHILD = Path(__file__).with_name("pipeline_kill_child.py")


@pytest.mark.slow
def test_killed_box_resumes_tracks_from_checkpoint(tmp_path: Path) -> None:
    rec = tmp_path / "rec"
    cfg, products = recording(rec, seconds=10.0)
    whole = {o.t_event_ns: [[x.track_id, *x.position_enu[:2]] for x in o.objects]
             for o in EmbeddedRunner(operators_from_config(cfg)).run(products)}

    before, after, stats = kill_then_restart(CHILD, rec, tmp_path, speed=2.0, min_lines=40,
                                             wait_s=30)  # 10 s of recording in 5 s
    assert 40 <= len(before) < len(whole), "the kill must land mid-stream"
    assert stats["checkpoint"]["restored"] == 1 and stats["replayed_skipped"] > 0
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
