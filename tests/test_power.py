"""Power management (rsu/power) on a fake sysfs tree in tmp_path, never the machine's own."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from rsu_sdk import Alarm, Detections, RadarObject, RadarScan

from rsu.cli import main
from rsu.config import parse_config
from rsu.config.power import PowerConfig
from rsu.power import CpuFreq, PowerGovernor
from rsu.power.nvpmodel import Nvpmodel
from rsu.power.stage import PowerStage, is_activity
from support import running_box, wait_until

FREQS = "300000 600000 900000 1200000 1500000 1800000"


def fake_sysfs(root: Path) -> Path:
    """Two policies as a 4-core ARM board has them: one lists its frequencies, one (like intel_pstate) not."""
    base = root / "devices" / "system" / "cpu" / "cpufreq"
    for i, freqs in ((0, FREQS), (1, None)):
        d = base / f"policy{i * 2}"
        d.mkdir(parents=True)
        files = {"affected_cpus": f"{2 * i} {2 * i + 1}", "scaling_governor": "schedutil",
                 "scaling_available_governors": "performance powersave schedutil", "scaling_cur_freq": "1500000",
                 "scaling_min_freq": "300000" if freqs else "400000", "scaling_max_freq": "1800000",
                 "cpuinfo_min_freq": "300000" if freqs else "400000", "cpuinfo_max_freq": "1800000"}
        if freqs:
            files["scaling_available_frequencies"] = freqs
        for name, text in files.items():
            (d / name).write_text(text + "\n")
    return root


def read(root: Path, policy: str, name: str) -> str:
    return (root / "devices/system/cpu/cpufreq" / policy / name).read_text().strip()


def caps(root: Path) -> list[tuple[str, str]]:
    return [(read(root, p, "scaling_governor"), read(root, p, "scaling_max_freq")) for p in ("policy0", "policy2")]


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _governor(root: Path, clock: Clock, **cfg: object) -> PowerGovernor:
    config = PowerConfig(enabled=True, sysfs_root=root, idle_after_s=5, interval_s=1, **cfg)
    return PowerGovernor(config, nvpmodel=Nvpmodel("rsu-test-no-such-nvpmodel"), clock=clock)


def _detections(n: int) -> Detections:
    return Detections(source="cam-1", t_event_ns=time.time_ns(), frame_id=1, image_size=(640, 480),
                      xyxy=np.tile([1.0, 2.0, 30.0, 40.0], (n, 1)), confidence=np.full(n, 0.9),
                      class_id=np.zeros(n, dtype=int), class_names=("car",))


BUSY = [("schedutil", "1800000"), ("schedutil", "1800000")]
IDLE = [("powersave", "600000"), ("powersave", "500000")]  # 500 MHz raised to the next listed frequency


def test_idle_busy_idle_cycle_writes_and_restores_the_cap(tmp_path: Path) -> None:
    root, clock = fake_sysfs(tmp_path / "sys"), Clock()
    gov = _governor(root, clock)
    stage = PowerStage(gov)
    states = []
    for t in range(7):  # quiet: idle once idle_after_s has passed
        clock.t = float(t)
        stage.process(_detections(0))  # an empty scene is no traffic
        states.append(gov.tick())
        assert caps(root) == (IDLE if states[-1] == "idle" else BUSY)
    assert states == ["busy"] * 5 + ["idle"] * 2
    clock.t = 7.2
    for _ in range(5):  # traffic returns: restored on the next tick
        stage.process(_detections(3))
    assert gov._wake.is_set()  # the governor's thread is woken at once, not at its next interval
    assert gov.tick() == "busy" and caps(root) == BUSY
    for t in range(8, 14):
        clock.t = float(t)
        gov.tick()
    assert gov.idle and caps(root) == IDLE
    stage.process(Alarm(source="furnace", t_event_ns=1, device="tuyere-3", kind="fault", active=True))
    clock.t = 14.0
    assert gov.tick() == "busy" and caps(root) == BUSY  # an active alarm keeps the box busy
    for t in range(15, 30):
        clock.t = float(t)
        assert gov.tick() == "busy"
    stage.process(Alarm(source="furnace", t_event_ns=2, device="tuyere-3", kind="fault", active=False))
    for t in range(30, 37):
        clock.t = float(t)
        gov.tick()
    assert gov.idle and caps(root) == IDLE
    gov.stop()  # leaves the CPU as found
    assert caps(root) == BUSY
    s = gov.stats()
    # stop() restores without counting a busy change
    assert (s["to_idle"], s["to_busy"], s["write_errors"], s["can_write"]) == (3, 2, 0, True)
    assert [c["to"] for c in s["recent_changes"]] == ["idle", "busy", "idle", "busy", "idle", "busy"]


def test_governor_thread_restores_at_once_when_traffic_returns(tmp_path: Path) -> None:
    """The governor's thread looks only every 10 minutes here: a restore within the wait below can only come
    from the wake-up that activity gives it, not from its interval."""
    root, clock = fake_sysfs(tmp_path / "sys"), Clock()
    cfg = PowerConfig(enabled=True, sysfs_root=root, idle_after_s=5, interval_s=600, idle_below_per_s=0)
    gov = PowerGovernor(cfg, nvpmodel=Nvpmodel("rsu-test-no-such-nvpmodel"), clock=clock)
    clock.t = 6.0
    assert gov.tick() == "idle" and caps(root) == IDLE
    gov.start()
    try:
        stage = PowerStage(gov)
        for _ in range(3):
            stage.process(_detections(2))
        wait_until(lambda: caps(root) == BUSY, 60, "the cap restored by the woken governor thread")
    finally:
        gov.stop()
    s = gov.stats()
    assert (s["to_idle"], s["to_busy"]) == (1, 1) and "activity products/s" in s["recent_changes"][-1]["reason"]
    assert clock.t == 6.0  # no time passed on the governor's clock: the wake-up, not an interval, restored it


def test_activity_rules() -> None:
    moving = RadarObject(object_id=1, dist_long=20.0, dist_lat=0.0, vrel_long=-8.0)
    parked = RadarObject(object_id=2, dist_long=9.0, dist_lat=3.0)
    assert is_activity(RadarScan(source="r", t_event_ns=1, cycle=1, objects=(parked, moving)))
    assert not is_activity(RadarScan(source="r", t_event_ns=1, cycle=1, objects=(parked,)))
    assert is_activity(_detections(1)) and not is_activity(_detections(0))


_READONLY_CHILD = textwrap.dedent("""
    import json, logging, sys
    from pathlib import Path
    from rsu.config.power import PowerConfig
    from rsu.power import PowerGovernor
    from rsu.power.nvpmodel import Nvpmodel
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    t = [0.0]
    gov = PowerGovernor(PowerConfig(enabled=True, sysfs_root=Path(sys.argv[1]), idle_after_s=5, interval_s=1),
                        nvpmodel=Nvpmodel("rsu-test-no-such-nvpmodel"), clock=lambda: t[0])
    states = []
    for step in range(20):
        t[0] = float(step)
        if step == 8:
            gov.note_activity(10)
        states.append(gov.tick())
    gov.stop()
    print(json.dumps({"states": states, "stats": gov.stats()}))
""")


def test_read_only_tree_logs_one_line_and_carries_on(tmp_path: Path) -> None:
    root = fake_sysfs(tmp_path / "sys")
    before = caps(root)
    if os.geteuid() != 0:  # no permission, as for a user without rights on /sys
        for f in root.rglob("scaling_*"):
            f.chmod(0o444)
        cmd = [sys.executable, "-c", _READONLY_CHILD, str(root)]
    else:  # root ignores file modes: a read-only bind mount, as /sys is in a container
        if shutil.which("unshare") is None or subprocess.run(["unshare", "-m", "true"]).returncode != 0:
            pytest.skip("running as root without unshare -m: cannot make a read-only tree")
        cmd = ["unshare", "-m", "sh", "-c", 'mount --bind -o ro "$1" "$1" && exec "$2" -c "$3" "$1"', "sh",
               str(root), sys.executable, _READONLY_CHILD]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    warnings = [line for line in done.stderr.splitlines() if line.startswith("WARNING")]
    print("\n" + "\n".join(warnings))
    assert len(warnings) == 1 and "cannot set the CPU frequency cap" in warnings[0] and "scaling_" in warnings[0]
    assert "carrying on" in warnings[0]
    assert result["states"][5:8] == ["idle"] * 3 and result["states"][8] == "busy" and result["states"][-1] == "idle"
    stats = result["stats"]
    assert stats["can_write"] is False and stats["to_idle"] == 2 and stats["write_errors"] >= 1
    assert caps(root) == before


def test_no_cpufreq_logs_one_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "sys").mkdir()
    clock = Clock()
    with caplog.at_level(logging.INFO, logger="rsu.power"):
        gov = _governor(tmp_path / "sys", clock)
        for t in range(12):
            clock.t = float(t)
            gov.tick()
        gov.stop()
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "no cpufreq policies" in warnings[0]
    assert gov.stats()["to_idle"] == 1 and gov.stats()["writes"] == 0


def test_nvpmodel_mode_set_while_idle_and_restored(tmp_path: Path) -> None:
    state = tmp_path / "mode"
    state.write_text("0")
    tool = tmp_path / "bin" / "nvpmodel"
    tool.parent.mkdir()
    tool.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        if [ "$1" = "-q" ]; then echo "NV Power Mode: MODE_$(cat {state})"; cat {state}; echo; exit 0; fi
        if [ "$1" = "-m" ]; then printf %s "$2" > {state}; echo "$2" >> {state}.log; exit 0; fi
        exit 2
    """))
    tool.chmod(0o755)
    clock = Clock()
    cfg = PowerConfig(enabled=True, sysfs_root=tmp_path / "nosys", idle_after_s=2, interval_s=1,
                      nvpmodel={"idle_mode": 2, "binary": str(tool)})
    gov = PowerGovernor(cfg, clock=clock)
    assert Nvpmodel(str(tool)).query() == (0, "MODE_0")
    for t in range(4):
        clock.t = float(t)
        gov.tick()
    assert gov.idle and state.read_text() == "2"
    gov.note_activity(5)
    clock.t = 4.0
    assert gov.tick() == "busy" and state.read_text() == "0"
    assert (tmp_path / "mode.log").read_text().split() == ["2", "0"]


def test_power_status_cli(tmp_path: Path) -> None:
    root = fake_sysfs(tmp_path / "sys")
    res = CliRunner().invoke(main, ["power", "status", "--json", "--sysfs", str(root),
                                    "--nvpmodel", "rsu-test-no-such-nvpmodel"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert info["cpufreq"] is True and info["can_write"] is True and info["nvpmodel"]["present"] is False
    p0 = info["policies"][0]
    assert (p0["name"], p0["cpus"], p0["governor"], p0["cur_khz"], p0["min_khz"], p0["max_khz"]) == (
        "policy0", [0, 1], "schedutil", 1500000, 300000, 1800000)
    assert p0["frequencies"][0] == 300000 and info["policies"][1]["frequencies"] == []
    text = CliRunner().invoke(main, ["power", "status", "--sysfs", str(root)]).output
    assert "policy2 cpus 2,3: governor schedutil, cur 1500 MHz, min 400 MHz, max 1800 MHz" in text
    empty = CliRunner().invoke(main, ["power", "status", "--sysfs", str(tmp_path / "none")]).output
    assert "no cpufreq policies" in empty and "can write: no" in empty
    assert [p.name for p in CpuFreq(root).read()] == ["policy0", "policy2"]


def test_box_wires_power_and_uplink_into_the_run_summary(tmp_path: Path) -> None:
    root = fake_sysfs(tmp_path / "sys")
    cfg = parse_config({"site": {"name": "pole-7", "lat": 48.1, "lon": 11.5},
                        "publish": {"zmq": {"endpoint": "tcp://127.0.0.1:*"}},
                        "pipeline": {"checkpoint": {"enabled": False}},
                        "power": {"enabled": True, "sysfs_root": str(root), "idle_after_s": 0.1,
                                  "interval_s": 0.05, "busy_cpu_pct": 100}})  # the machine's load: not this test
    with running_box(cfg, tmp_path) as built:
        wait_until(lambda: caps(root) == IDLE, 60, "the cap lowered (no traffic)")
        built.box.ingest(Alarm(source="furnace", t_event_ns=time.time_ns(), device="d1", kind="fault",
                               active=True))
        wait_until(lambda: caps(root) == BUSY, 60, "the cap restored (an alarm)")
    summary = built.summary()
    power = summary["stage_stats"]["power"]
    assert power["to_idle"] >= 1 and power["to_busy"] >= 1 and power["active_alarms"] == 1
    uplink = summary["publish"]["uplink"]
    assert uplink["state"] == "good" and uplink["offered"]["safety"] == uplink["sent"]["safety"] >= 1
    assert caps(root) == BUSY
