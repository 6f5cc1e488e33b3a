"""``rsu simulate intersection``: run the world, record what the sensors saw, and the ground truth.

Recording folder (docs/fusion.md, "Recordings"):

- ``truth.jsonl``: one line per camera frame time: ``{"t_event", "objects": [{"id", "class", "position_enu",
  "velocity_enu", "heading_deg", "size"}]}``;
- ``camera.jsonl``: one line per frame: the camera's :class:`Detections` (pixels, as a detector reports them);
- ``radar.log.gz``: the ARS408 CAN frames, gzipped candump log (python-can ``CanutilsLogWriter``), with
  noise, lost objects, ghosts, clutter, dropped cycles and a few corrupt frames;
- ``hazards.jsonl`` (with ``hazards``): one line per scripted hazard, its cause and ground-truth interval
  (:mod:`rsu.sim.intersection.hazards`);
- ``scenario.yaml``: seed, duration, site, calibration (surveyed ground points, intrinsics, mounts),
  evaluation zone; ``config.yaml``: an rsu config that replays this folder (``rsu run``, ``rsu check``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from rsu.fusion.geometry import PinholeCamera, RadarMount
from rsu.fusion.serde import detections_to_dict
from rsu.sim.intersection.hazards import schedule, spawn_due, write_truth
from rsu.sim.intersection.sensors import CameraSim, RadarSim, TruthObject
from rsu.sim.intersection.world import World
from rsu.sources.ars408 import layout as L
from rsu.sources.ars408.encoder import encode_cycle

__all__ = ["simulate", "Setup", "T0_NS"]

T0_NS = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
DT_S = 0.01
CAMERA_PERIOD, CAMERA_PHASE = 10, 3  # steps: 10 Hz, first frame at +30 ms
RADAR_PERIOD = 7  # steps: 70 ms, the ARS408's cycle
RADAR_LOG = "radar.log.gz"
SURVEY = [(0, 0), (10, 0), (0, 10), (10, 10), (20, 5), (5, 25), (30, 30), (-5, 15), (25, -5), (35, 12)]


@dataclass(frozen=True, slots=True)
class Setup:
    site: tuple[float, float, float] = (48.137400, 11.575500, 520.0)
    camera: PinholeCamera = PinholeCamera(1100.0, 1100.0, 960.0, 540.0, (-18.0, -18.0, 6.5), 45.0, 9.0)
    image_size: tuple[int, int] = (1920, 1080)
    radar: RadarMount = RadarMount((-17.0, -18.5, 1.0), 45.0)
    zone: tuple[tuple[float, float], ...] = ((-10.0, -10.0), (45.0, -10.0), (45.0, 45.0), (-10.0, 45.0))
    ghosts: tuple[tuple[float, float], ...] = ((14.0, 14.0), (24.0, -8.5), (-9.0, 27.0))
    camera_id: str = "cam-1"
    radar_id: str = "radar-1"


def _truth(world: World) -> list[TruthObject]:
    out = []
    for a in world.agents:
        x, y, ve, vn, h = a.state()
        out.append(TruthObject(a.id, a.kind, x, y, ve, vn, h, a.size))
    return out


def _fmt_truth(t_ns: int, objs: list[TruthObject]) -> str:
    return json.dumps({"t_event": t_ns, "objects": [
        {"id": o.id, "class": o.kind, "position_enu": [round(o.x, 3), round(o.y, 3), 0.0],
         "velocity_enu": [round(o.ve, 3), round(o.vn, 3)], "heading_deg": round(o.heading, 2),
         "size": list(o.size)} for o in objs]}, separators=(",", ":"))


def _survey(setup: Setup, rng: np.random.Generator) -> list[dict[str, Any]]:
    uv, _ = setup.camera.project([(x, y, 0.0) for x, y in SURVEY])
    uv = uv + rng.normal(0.0, 0.5, uv.shape)
    return [{"enu": [float(x), float(y)], "pixel": [round(float(u), 2), round(float(v), 2)]}
            for (x, y), (u, v) in zip(SURVEY, uv)]


def _scenario(setup: Setup, seconds: float, seed: int, survey: list[dict[str, Any]]) -> dict[str, Any]:
    cam = setup.camera
    calibration = {
        "cameras": {setup.camera_id: {
            "image_size": list(setup.image_size), "ground_points": survey,
            "intrinsics": {"fx": cam.fx, "fy": cam.fy, "cx": cam.cx, "cy": cam.cy},
            "mount": {"position": list(cam.position), "yaw_deg": cam.yaw_deg, "pitch_deg": cam.pitch_deg},
        }},
        "radars": {setup.radar_id: {"position": list(setup.radar.position), "yaw_deg": setup.radar.yaw_deg}},
    }
    lat, lon, alt = setup.site
    return {"scenario": "intersection", "seed": seed, "seconds": seconds, "t0_ns": T0_NS,
            "site": {"name": "sim-intersection", "lat": lat, "lon": lon, "alt": alt},
            "calibration": calibration, "eval_zone": [list(p) for p in setup.zone],
            "camera": {"id": setup.camera_id, "rate_hz": 1 / (CAMERA_PERIOD * DT_S)},
            "radar": {"id": setup.radar_id, "cycle_s": RADAR_PERIOD * DT_S, "log": RADAR_LOG}}


def _config(scn: dict[str, Any], out: Path) -> dict[str, Any]:
    return {"version": 1, "site": scn["site"],
            "sources": [{"id": "replay", "type": "replay", "path": str(out.resolve()), "speed": 1.0}],
            "fusion": {"mode": "fused", **scn["calibration"]}}


def simulate(out: Path | str, seconds: float = 60.0, seed: int = 0, setup: Setup | None = None,
             hazards: tuple[str, ...] | list[str] = ()) -> dict[str, Any]:
    """Write a recording of ``seconds`` of the intersection to ``out``; return a summary.

    :param hazards: scripted hazards to add (:data:`rsu.sim.intersection.hazards.HAZARDS`); their ground
        truth goes to ``hazards.jsonl``. Without them the world is exactly the one of the seed.
    """
    import can

    truths = schedule(tuple(hazards))
    setup = setup or Setup()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    world = World(np.random.default_rng(rng.integers(2**63)))
    cam_rng = np.random.default_rng(rng.integers(2**63))
    cam = CameraSim(setup.camera, setup.image_size, setup.camera_id, cam_rng,
                    glare=(30.0, 9.0, float(cam_rng.uniform(0.0, 30.0))))
    radar = RadarSim(setup.radar, np.random.default_rng(rng.integers(2**63)), ghosts=list(setup.ghosts))
    faults = np.random.default_rng(rng.integers(2**63))
    # warm up so that the roads are populated at t0
    for _ in range(int(25.0 / DT_S)):
        world.step(DT_S)
    counts = dict.fromkeys(("frames", "frames_dropped", "glare_frames", "detections", "radar_cycles", "radar_dropped", "corrupt_frames",
                            "truth_objects"), 0)
    steps = int(round(seconds / DT_S))
    with open(out / "truth.jsonl", "w") as f_truth, open(out / "camera.jsonl", "w") as f_cam, \
            can.Logger(str(out / RADAR_LOG)) as log:
        for k in range(steps):
            t_ns = T0_NS + k * int(DT_S * 1e9)
            for agent in spawn_due(truths, k * DT_S, world._next_id):
                world.agents.append(agent)
                world._next_id += 1
            for h in truths:
                h.observe(k * DT_S)
            truth = _truth(world)
            if k % CAMERA_PERIOD == CAMERA_PHASE:
                det = cam.detect(truth, t_ns, counts["frames"], k * DT_S)
                if det is None:
                    counts["frames_dropped"] += 1
                else:
                    f_cam.write(json.dumps(detections_to_dict(det), separators=(",", ":")) + "\n")
                    counts["detections"] += len(det)
                f_truth.write(_fmt_truth(t_ns, truth) + "\n")
                counts["frames"] += 1
                counts["glare_frames"] += int(cam.glaring(k * DT_S))
                counts["truth_objects"] += len(truth)
            if k % RADAR_PERIOD == 0:
                cycle = k // RADAR_PERIOD
                objs = radar.measure(truth)
                if k % 100 == 0:
                    log(can.Message(timestamp=t_ns / 1e9 - 0.005, arbitration_id=L.RADAR_STATE,
                                    data=L.encode_state(), is_extended_id=False, channel="can0"))
                if faults.random() < 0.02:
                    counts["radar_dropped"] += 1
                else:
                    frames = encode_cycle(objs, cycle, t_ns / 1e9)
                    if faults.random() < 0.004 and len(frames) > 1:
                        i = int(faults.integers(1, len(frames)))
                        frames[i] = (frames[i][0], frames[i][1], frames[i][2][:3])
                        counts["corrupt_frames"] += 1
                    for t, aid, data in frames:
                        log(can.Message(timestamp=t, arbitration_id=aid, data=data, is_extended_id=False,
                                        channel="can0"))
                    counts["radar_cycles"] += 1
            world.step(DT_S)
    scn = _scenario(setup, seconds, seed, _survey(setup, rng))
    if truths:
        scn["hazards"] = write_truth(out, truths, T0_NS, seconds)
    (out / "scenario.yaml").write_text(yaml.safe_dump(scn, sort_keys=False))
    (out / "config.yaml").write_text(yaml.safe_dump(_config(scn, out), sort_keys=False))
    if truths:
        counts["hazards"] = len(truths)
    return {"scenario": "intersection", "out": str(out), "seconds": seconds, "seed": seed, **counts,
            "bytes": sum(p.stat().st_size for p in out.iterdir() if p.is_file())}
