"""``rsu eval intersection``: simulate, run the fusion engine fused / camera-only / radar-only over the
replayed recording (the same engine the app runs, without sockets), and score each run."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from rsu_sdk import Detections, ObjectList

from rsu.eval.tracking import evaluate, frames_from_records, load_truth
from rsu.fusion.serde import objects_record

__all__ = ["MODES", "run_engine", "run_recording", "run_scenario"]

MODES = ("fused", "camera_only", "radar_only")


def run_engine(recording: Path | str, mode: str) -> tuple[list[ObjectList], dict[str, Any]]:
    """Replay ``recording`` through a :class:`FusionEngine` built from its ``config.yaml``."""
    from rsu.config import load_config
    from rsu.fusion import FusionEngine
    from rsu.sources.ars408 import CycleAssembler
    from rsu.sources.replay import iter_products, recording_info

    recording = Path(recording)
    cfg = load_config(recording / "config.yaml")
    engine = FusionEngine.from_config(cfg, mode=mode)  # type: ignore[arg-type]
    assembler = CycleAssembler(recording_info(recording).get("radar", {}).get("id", "radar"))
    out: list[ObjectList] = []
    for p in iter_products(recording, assembler=assembler):
        out.extend(engine.on_detections(p) if isinstance(p, Detections) else engine.on_radar(p))
    out.extend(engine.flush())
    return out, {"engine": engine.stats(), "radar_decoder": assembler.stats()}


def run_recording(recording: Path | str, modes: tuple[str, ...] = MODES, write: bool = False,
                  max_distance_m: float = 2.0) -> dict[str, Any]:
    """Metrics of each mode on one recording; with ``write``, ``objects_<mode>.jsonl`` go next to it."""
    recording = Path(recording)
    truth, zone = load_truth(recording)
    result: dict[str, Any] = {}
    for mode in modes:
        lists, stats = run_engine(recording, mode)
        records = [objects_record(ol, "sim-intersection") for ol in lists]
        if write:
            with open(recording / f"objects_{mode}.jsonl", "w") as fh:
                for r in records:
                    fh.write(json.dumps(r, separators=(",", ":")) + "\n")
        metrics = evaluate(truth, frames_from_records(records), zone, max_distance_m=max_distance_m)
        metrics["stats"] = stats
        result[mode] = metrics
    return result


def run_scenario(seconds: float = 60.0, seed: int = 0, out: Path | str | None = None, *,
                 modes: tuple[str, ...] = MODES) -> dict[str, Any]:
    """Simulate the intersection (into ``out`` or a temporary folder) and score every mode."""
    from rsu.sim.intersection import simulate

    if out is not None:
        summary = simulate(out, seconds, seed)
        result = run_recording(out, modes, write=True)
    else:
        with tempfile.TemporaryDirectory(prefix="rsu-eval-") as tmp:
            summary = simulate(tmp, seconds, seed)
            result = run_recording(tmp, modes)
    result["scenario"] = {k: summary[k] for k in ("scenario", "seconds", "seed", "frames", "radar_cycles")}
    return result
