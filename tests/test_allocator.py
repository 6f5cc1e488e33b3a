"""The allocator settings for weeks of uptime: frame-sized blocks go back to the kernel when freed, the box
trims its heap on an interval and says what it applied (glibc only; elsewhere the settings are a no-op)."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from rsu.bench.soak import process_sample
from rsu.config.pipeline import MemoryConfig
from rsu.core.allocator import AllocatorSettings, glibc, heap_info, trim, tune
from support import running_box, wait_until

needs_glibc = pytest.mark.skipif(glibc() is None, reason="the C library is not glibc (mallopt, malloc_trim)")


@needs_glibc
def test_frame_sized_blocks_are_returned_to_the_kernel_when_freed() -> None:
    applied = tune(AllocatorSettings(mmap_threshold=256 * 1024, arena_max=4))
    assert applied == {"allocator": "glibc", "mmap_threshold": 262144, "trim_threshold": 1048576, "arena_max": 4}
    before = process_sample()["rss_mb"]
    frames = [np.ones((576, 768, 3), dtype=np.uint8) for _ in range(150)]  # 1.3 MB each, 199 MB in all
    during = process_sample()["rss_mb"]
    assert during - before > 150
    heap = heap_info()
    if heap is not None:  # glibc >= 2.33: the frames are mapped blocks, not arena memory
        assert heap["mmap_mb"] > 150
    del frames
    after = process_sample()["rss_mb"]
    assert after - before < 30, (before, during, after)
    assert trim() is True


def test_memory_config_bounds_and_defaults() -> None:
    cfg = MemoryConfig()
    assert cfg.tune_allocator and cfg.mmap_threshold_kb == 256 and cfg.arena_max == 4 and cfg.trim_interval_s == 60
    assert cfg.gc_interval_s == 60
    with pytest.raises(ValidationError, match="gc_interval_s"):
        MemoryConfig(gc_interval_s=-0.5)
    with pytest.raises(ValidationError, match="trim_interval_s"):
        MemoryConfig(trim_interval_s=-1)
    with pytest.raises(ValidationError, match="mmap_threshold_kb"):
        MemoryConfig(mmap_threshold_kb=10**9)


@needs_glibc
def test_the_box_trims_on_its_interval_and_reports_the_settings(tmp_path: Path) -> None:
    cfg = _box_config(tmp_path, {"trim_interval_s": 0.05, "arena_max": 2})
    with running_box(cfg, tmp_path) as built:
        wait_until(lambda: built.box.summary()["services"]["allocator"]["trims"] >= 3, 60, "three heap trims")
        stats = built.box.summary()["services"]["allocator"]
    assert stats["settings"] == {"allocator": "glibc", "mmap_threshold": 262144, "trim_threshold": 1048576,
                                 "arena_max": 2}
    assert stats["heap"] is None or stats["heap"]["arena_mb"] > 0


def test_tune_allocator_false_leaves_malloc_alone(tmp_path: Path) -> None:
    cfg = _box_config(tmp_path, {"tune_allocator": False, "trim_interval_s": 0, "gc_interval_s": 0})
    with running_box(cfg, tmp_path) as built:
        stats = built.box.summary()["services"]["allocator"]
    assert stats["settings"] == {"allocator": "untouched"} and stats["trims"] == 0
    assert stats["collections"] == 0 and stats["frozen"] == 0 and gc.get_freeze_count() == 0


def test_the_box_freezes_start_up_and_collects_what_it_made_since_on_its_interval(tmp_path: Path) -> None:
    cfg = _box_config(tmp_path, {"trim_interval_s": 0, "gc_interval_s": 0.05})
    with running_box(cfg, tmp_path) as built:
        assert gc.get_freeze_count() > 1000  # the modules, config and publisher start-up made
        gc.disable()  # Python's own schedule off: only the box's interval collects what follows
        try:
            cycles = []
            for _ in range(50):  # cyclic garbage made after start-up
                inner: list = []
                inner.append(inner)
                cycles.append(weakref.ref(_Node(inner)))
            del inner
            wait_until(lambda: built.box.summary()["services"]["allocator"]["collections"] >= 3
                       and all(r() is None for r in cycles), 60, "three collections, the cycles gone")
        finally:
            gc.enable()
        stats = built.box.summary()["services"]["allocator"]
    assert stats["collections"] >= 3 and stats["collected"] >= 50 and stats["trims"] == 0
    assert stats["frozen"] > 1000 and stats["collect_ms_max"] >= 0
    assert gc.get_freeze_count() == 0  # stop gives the embedding process its objects back


def _box_config(tmp_path: Path, memory: dict) -> dict:
    """A box with no sources, its bus on a free port, no web server, and ``memory`` as ``pipeline.memory``."""
    return {"site": {"name": "alloc", "lat": 51.49, "lon": 6.73}, "sources": [],
            "publish": {"zmq": {"endpoint": "tcp://127.0.0.1:*"}}, "web": {"enabled": False},
            "pipeline": {"checkpoint": {"dir": str(tmp_path / "ckpt")}, "memory": memory}}


class _Node:
    """A cycle through a weak-referenceable object: ``self.ref`` holds a list that holds ``self``."""

    def __init__(self, inner: list) -> None:
        self.ref = inner
        inner.append(self)
