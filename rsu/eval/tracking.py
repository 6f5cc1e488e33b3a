"""Tracking quality of a run against ground truth: MOTA, IDF1, ID switches (motmetrics), RMSE.

Truth: ``truth.jsonl`` of a recording (one line per frame: ``t_event``, ``objects`` with ``id``,
``position_enu``, ``velocity_enu``). Output: a JSONL of ``rsu.objects/1`` records (``t_event``,
``objects`` with ``track_id``, ``position_enu``, ``velocity_enu``). Each truth frame is compared with the
output record nearest in time (within ``max_dt_s``), moved to the truth time with its velocities.
Objects outside the evaluation zone (``scenario.yaml`` ``eval_zone``) are left out on both sides.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Frame", "load_truth", "load_output", "frames_from_records", "evaluate", "in_zone"]

Array = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Frame:
    t_ns: int
    ids: npt.NDArray[np.int64]
    pos: Array  # (N, 2)
    vel: Array  # (N, 2)


def _frame(t_ns: int, objs: Sequence[dict[str, Any]], id_key: str) -> Frame:
    ids = np.array([int(o[id_key]) for o in objs], dtype=np.int64)
    pos = np.array([o["position_enu"][:2] for o in objs], dtype=np.float64).reshape(-1, 2)
    vel = np.array([o.get("velocity_enu", [0.0, 0.0])[:2] for o in objs], dtype=np.float64).reshape(-1, 2)
    return Frame(int(t_ns), ids, pos, vel)


def _read_jsonl(path: Path) -> Iterable[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{n}: not JSON: {exc}") from None


def load_truth(path: Path | str) -> tuple[list[Frame], list[list[float]] | None]:
    """Frames of a truth file (or of a recording folder's ``truth.jsonl``) and the evaluation zone, if any."""
    import yaml

    path = Path(path)
    if path.is_dir():
        path = path / "truth.jsonl"
    frames = [_frame(d["t_event"], d["objects"], "id") for d in _read_jsonl(path)]
    scn = path.parent / "scenario.yaml"
    zone = yaml.safe_load(scn.read_text()).get("eval_zone") if scn.exists() else None
    return frames, zone


def frames_from_records(records: Iterable[dict[str, Any]]) -> list[Frame]:
    """Frames of ``rsu.objects/1`` payloads; ``rsu tap`` lines (``{"topic", "payload"}``) are unwrapped and
    messages of other products skipped, so ``rsu tap ... > run.jsonl`` is a valid OUTPUT."""
    payloads = (r["payload"] if "payload" in r and "topic" in r else r for r in records)
    return sorted((_frame(p["t_event"], p["objects"], "track_id") for p in payloads
                   if str(p.get("schema", "rsu.objects/1")).startswith("rsu.objects/")), key=lambda f: f.t_ns)


def load_output(path: Path | str) -> list[Frame]:
    """Frames of a JSONL of ``rsu.objects/1`` records."""
    return frames_from_records(_read_jsonl(Path(path)))


def in_zone(pos: Array, zone: Sequence[Sequence[float]] | None) -> npt.NDArray[np.bool_]:
    """Points inside a polygon (even-odd rule); all True without a zone."""
    if zone is None or len(pos) == 0:
        return np.ones(len(pos), bool)
    poly = np.asarray(zone, dtype=np.float64)
    x, y = pos[:, 0], pos[:, 1]
    inside = np.zeros(len(pos), bool)
    for (x1, y1), (x2, y2) in zip(poly, np.roll(poly, -1, axis=0)):
        cross = (y1 > y) != (y2 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xi = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        inside ^= cross & (x < xi)
    return inside


def _nearest(out_t: npt.NDArray[np.int64], t: int) -> int:
    i = int(np.searchsorted(out_t, t))
    cands = [j for j in (i - 1, i) if 0 <= j < len(out_t)]
    return min(cands, key=lambda j: abs(int(out_t[j]) - t)) if cands else -1


def evaluate(truth: Sequence[Frame], output: Sequence[Frame], zone: Sequence[Sequence[float]] | None = None,
             max_distance_m: float = 2.0, max_dt_s: float = 0.1) -> dict[str, Any]:
    """MOTA, IDF1, ID switches, position and velocity RMSE over matched pairs."""
    import motmetrics as mm

    acc = mm.MOTAccumulator(auto_id=True)
    out_t = np.array([f.t_ns for f in output], dtype=np.int64)
    for f in truth:
        keep = in_zone(f.pos, zone)
        t_ids, t_pos = f.ids[keep], f.pos[keep]
        h_ids, h_pos = np.zeros(0, np.int64), np.zeros((0, 2))
        j = _nearest(out_t, f.t_ns) if len(out_t) else -1
        if j >= 0 and abs(int(out_t[j]) - f.t_ns) <= max_dt_s * 1e9:
            o = output[j]
            pos = o.pos + o.vel * ((f.t_ns - o.t_ns) / 1e9)
            k = in_zone(pos, zone)
            h_ids, h_pos = o.ids[k], pos[k]
        d2 = mm.distances.norm2squared_matrix(t_pos, h_pos, max_d2=max_distance_m**2)
        acc.update(t_ids.tolist(), h_ids.tolist(), d2)
    err_p: list[float] = []
    err_v: list[float] = []
    events = acc.mot_events
    matched = events[events["Type"].isin(["MATCH", "SWITCH"])]
    if len(matched):
        frame_ids = matched.index.get_level_values(0).to_numpy()
        by_frame = {i: truth[i] for i in np.unique(frame_ids)}
        for fid, oid, hid in zip(frame_ids, matched["OId"].to_numpy(), matched["HId"].to_numpy()):
            f = by_frame[fid]
            ti = int(np.flatnonzero(f.ids == oid)[0])
            j = _nearest(out_t, f.t_ns)
            o = output[j]
            hi = int(np.flatnonzero(o.ids == hid)[0])
            pos = o.pos[hi] + o.vel[hi] * ((f.t_ns - o.t_ns) / 1e9)
            err_p.append(float(np.sum((pos - f.pos[ti]) ** 2)))
            err_v.append(float(np.sum((o.vel[hi] - f.vel[ti]) ** 2)))
    mh = mm.metrics.create()
    summary = mh.compute(acc, metrics=["mota", "idf1", "num_switches", "num_false_positives", "num_misses",
                                       "num_objects", "num_matches", "num_unique_objects"], name="run")
    row = summary.loc["run"]

    def _f(v: Any) -> float:
        v = float(v)
        return round(v, 4) if np.isfinite(v) else 0.0

    return {
        "mota": _f(row["mota"]), "idf1": _f(row["idf1"]), "id_switches": int(row["num_switches"]),
        "pos_rmse_m": round(float(np.sqrt(np.mean(err_p))), 4) if err_p else None,
        "vel_rmse_mps": round(float(np.sqrt(np.mean(err_v))), 4) if err_v else None,
        "false_positives": int(row["num_false_positives"]), "misses": int(row["num_misses"]),
        "objects": int(row["num_objects"]), "matches": int(row["num_matches"]),
        "unique_objects": int(row["num_unique_objects"]), "frames": len(truth),
    }
