"""`rsu run` on a small furnace config (sensor_replay of a simulated recording + the furnace_fault plugin)
publishes fault predictions and alarms on a real ZeroMQ socket, in each fault_prediction mode."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from support import Subscriber, wait_until

SITE = "plant"


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`rsu simulate furnace`, 900 s, seed 0: furnace-2 has a fault (precursor from 302 s, fault 482-679 s)."""
    rec = tmp_path_factory.mktemp("furnace")
    subprocess.run([sys.executable, "-m", "rsu", "simulate", "furnace", "--out", str(rec), "--seconds", "900",
                    "--seed", "0"], check=True, capture_output=True, timeout=120)
    return rec


def _config(tmp: Path, rec: Path, mode: str | None) -> Path:
    doc: dict = {
        "site": {"name": SITE, "lat": 51.49, "lon": 6.73},
        "sources": [{"id": "furnaces", "type": "sensor_replay", "path": str(rec), "speed": 150.0}],
        "publish": {"zmq": {"endpoint": "tcp://127.0.0.1:*"}},
        "pipeline": {"checkpoint": {"dir": str(tmp / "ckpt")}},
        "plugins": {"enabled": ["furnace_fault"], "furnace_fault": {"severity": "critical"}},
    }
    if mode is not None:
        doc["fault_prediction"] = {"mode": mode}
    path = tmp / "furnace.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _run_and_subscribe(cfg: Path, cwd: Path) -> tuple[list[dict], dict, str]:
    """Start `rsu run`, subscribe to the endpoint its banner names, collect `fault` messages until it ends."""
    proc = subprocess.Popen([sys.executable, "-m", "rsu", "run", str(cfg), "--summary", str(cwd / "summary.json")],
                            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    found = threading.Event()
    endpoint: list[str] = []
    err: list[str] = []

    def read_stderr() -> None:
        for line in proc.stderr:  # type: ignore[union-attr]
            err.append(line)
            m = re.search(r"publishing on (tcp://127\.0\.0\.1:\d+)", line)
            if m and not endpoint:
                endpoint.append(m.group(1))
                found.set()

    threading.Thread(target=read_stderr, daemon=True).start()
    sub: Subscriber | None = None
    try:
        assert found.wait(60), "no endpoint in the banner: " + "".join(err)[-2000:]
        sub = Subscriber(endpoint[0], f"rsu/{SITE}/fault")
        stdout = proc.stdout.read()  # type: ignore[union-attr]  # until the run ends
        proc.wait(30)
        assert proc.returncode == 0, "".join(err)[-3000:]
        summary = json.loads(stdout)
        sent = summary["publish"]["topics"]

        def last_of_each_topic_arrived() -> bool:  # the run has ended: the rest is in flight to the socket
            seen = {m.topic: m.payload["seq"] for m in sub.messages}
            return all(seq == sent[topic]["next_seq"] - 1 for topic, seq in seen.items())

        wait_until(last_of_each_topic_arrived, 60, "the last message of each fault topic")
        messages = [{"topic": m.topic, **m.payload} for m in sub.messages]
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)
        if sub is not None:
            sub.close()
    return messages, summary, "".join(err)


@pytest.mark.slow
@pytest.mark.parametrize("mode", [None, "worker"])
def test_rsu_run_publishes_fault_predictions_and_alarms(recording: Path, tmp_path: Path, mode: str | None) -> None:
    cfg = _config(tmp_path, recording, mode)
    messages, summary, err = _run_and_subscribe(cfg, tmp_path)
    preds = [m for m in messages if m["schema"] == "rsu.fault.prediction/1"]
    alarms = [m for m in messages if m["schema"] == "rsu.fault.alarm/1"]
    assert preds, f"no predictions published; stderr: {err[-2000:]}"
    assert {p["device"] for p in preds} == {"furnace-1", "furnace-2"}
    assert {p["model"] for p in preds} == {"fault-lstm"}
    assert all(p["topic"] == f"rsu/{SITE}/fault/fault_prediction" for p in preds)
    # the furnace with the fault raises a critical alarm; the healthy one stays quiet
    raised = [a for a in alarms if a["active"]]
    assert raised and {a["device"] for a in raised} == {"furnace-2"}
    assert raised[0]["severity"] == "critical" and raised[0]["topic"] == f"rsu/{SITE}/fault/furnace-2"
    assert summary["stages"]["routed"]["Prediction"] == 2 * (900 - 59)  # every window predicted and routed
    stages = summary["stage_stats"]
    if mode is None:  # default: the keyed operator on the embedded runner, checkpointed
        op = stages["operators"]["operators"]["fault_prediction"]
        assert op["windows"] == op["model_runs"] == 2 * (900 - 59)
        assert list((tmp_path / "ckpt").glob("ckpt-*.pkl"))
    else:  # worker: the host stage with dynamic batching, drained at stop (before the publisher closes)
        st = stages["fault_prediction"]
        assert st["mode"] == "worker" and st["windows"] == 2 * (900 - 59) and st["dropped"] == 0
        assert sum(int(k) * v for k, v in st["batches"].items()) == st["windows"]


def test_rsu_run_names_the_missing_model_and_plugin(recording: Path, tmp_path: Path) -> None:
    cfg = _config(tmp_path, recording, "operator")
    doc = yaml.safe_load(cfg.read_text())
    doc["plugins"] = {"enabled": []}
    cfg.write_text(yaml.safe_dump(doc))
    proc = subprocess.run([sys.executable, "-m", "rsu", "run", str(cfg)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2  # a start-up problem: exit 2, as rsu check
    assert "fault_prediction.model: no enabled plugin registers model 'fault-lstm'" in proc.stderr
    assert "enable plugin furnace_fault" in proc.stderr
