"""Start and stop a standalone Flink cluster from the PyFlink wheel (``pyflink/bin/start-cluster.sh``).

The wheel's ``conf/`` is copied to a folder of ours with the ports, the worker Python and the pid/log
folders set; ``FLINK_CONF_DIR``/``FLINK_LOG_DIR`` point the scripts there; further TaskManagers start with
``taskmanager.sh start``. ``cluster.json`` in the folder records the ports, so ``rsu flink cluster
stop|status`` find it again. Submit with ``rsu flink submit CONFIG`` (``pipeline.flink.address`` =
``127.0.0.1:<rest_port>``) or ``rsu run CONFIG --runner flink``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

__all__ = ["StandaloneCluster", "free_port", "flink_home", "JAVA_OPTIONS"]

JAVA_OPTIONS = "-XX:TieredStopAtLevel=1"
"""JVM options of the cluster's processes. C1 only: the JVM carries the plumbing, the cores go to the Python
operators; C2 recompiling each new job's classes took half a core per JVM for the first minute of every job
(docs/scale-out.md, "Settings")."""


def flink_home() -> Path:
    import pyflink

    return Path(pyflink.__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _set(doc: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``dotted`` in a nested config, replacing a flat spelling of the same key (no duplicates)."""
    doc.pop(dotted, None)
    node = doc
    parts = dotted.split(".")
    for i, part in enumerate(parts[:-1]):
        rest = ".".join(parts[i:])
        if not isinstance(node.get(part), dict):
            if rest in node:
                node[rest] = value
                return
            node[part] = {}
        node = node[part]
    node[parts[-1]] = value


class StandaloneCluster:
    """A JobManager and ``taskmanagers`` TaskManagers on loopback, under ``work_dir``. Slots are spread
    evenly over the TaskManagers, and a lost TaskManager is noticed within seconds (heartbeats every 1 s,
    10 s timeout), so a job of parallelism 2 on two TaskManagers survives the loss of one."""

    def __init__(self, work_dir: Path | str, *, rest_port: int | None = None, rpc_port: int | None = None,
                 slots: int = 2, python_executable: str | None = None, taskmanagers: int = 1,
                 taskmanager_memory: str = "1536m", java_options: str = JAVA_OPTIONS) -> None:
        if taskmanagers < 1 or slots < 1:
            raise ValueError(f"flink cluster: need taskmanagers >= 1 and slots >= 1, got {taskmanagers}, {slots}")
        self.taskmanagers = taskmanagers
        self.taskmanager_memory = taskmanager_memory
        self.java_options = java_options
        self.work_dir = Path(work_dir)
        self.rest_port = rest_port or free_port()
        self.rpc_port = rpc_port or free_port()
        self.slots = slots
        self.python = python_executable or sys.executable
        self.conf_dir = self.work_dir / "conf"
        self.log_dir = self.work_dir / "log"
        self.home = flink_home()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.rest_port}"

    def _write_conf(self) -> None:
        if self.conf_dir.exists():
            shutil.rmtree(self.conf_dir)
        shutil.copytree(self.home / "conf", self.conf_dir)
        path = self.conf_dir / "config.yaml"
        doc = yaml.safe_load(path.read_text()) or {}
        settings = {
            "jobmanager.rpc.address": "127.0.0.1", "jobmanager.rpc.port": self.rpc_port,
            "jobmanager.bind-host": "127.0.0.1", "taskmanager.bind-host": "127.0.0.1",
            "taskmanager.host": "127.0.0.1", "rest.address": "127.0.0.1", "rest.bind-address": "127.0.0.1",
            "rest.port": self.rest_port, "taskmanager.numberOfTaskSlots": self.slots,
            "jobmanager.memory.process.size": "1024m", "taskmanager.memory.process.size": self.taskmanager_memory,
            "cluster.evenly-spread-out-slots": True, "taskmanager.load-balance.mode": "SLOTS",
            "heartbeat.interval": 1000, "heartbeat.timeout": 10000,
            # pemja (flink-python) from lib/ for every job: loaded per job from a user jar, its libpython
            # load fails in the second Python job of a TaskManager (Java 17)
            "classloader.parent-first-patterns.additional": "pemja.",
            "python.executable": self.python, "python.client.executable": self.python,
            **({"env.java.opts.all": self.java_options} if self.java_options else {}),
            "env.pid.dir": str(self.work_dir / "pid"), "env.log.dir": str(self.log_dir),
        }
        for key, value in settings.items():
            _set(doc, key, value)
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        lib = self.work_dir / "lib"  # the wheel's lib/ plus flink-python from opt/ (FLINK_LIB_DIR)
        if lib.exists():
            shutil.rmtree(lib)
        lib.mkdir()
        for jar in [*(self.home / "lib").glob("*.jar"), *(self.home / "opt").glob("flink-python-*.jar")]:
            (lib / jar.name).symlink_to(jar)

    def _env(self) -> dict[str, str]:
        from rsu.pipeline.flink.job import worker_pythonpath

        env = dict(os.environ)
        env.update(FLINK_CONF_DIR=str(self.conf_dir), FLINK_LOG_DIR=str(self.log_dir),
                   FLINK_LIB_DIR=str(self.work_dir / "lib"),
                   PYTHONPATH=worker_pythonpath())
        return env

    def _script(self, name: str) -> list[str]:
        return ["bash", str(self.home / "bin" / name)]

    def start(self, timeout: float = 90.0) -> StandaloneCluster:
        """Start it and wait until the REST endpoint reports every TaskManager."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        (self.work_dir / "pid").mkdir(exist_ok=True)
        self.log_dir.mkdir(exist_ok=True)
        self._write_conf()
        subprocess.run(self._script("start-cluster.sh"), env=self._env(), check=True, capture_output=True,
                       timeout=timeout)
        for _ in range(self.taskmanagers - 1):
            self.add_taskmanager(timeout)
        (self.work_dir / "cluster.json").write_text(json.dumps(
            {"rest_port": self.rest_port, "rpc_port": self.rpc_port, "slots": self.slots,
             "taskmanagers": self.taskmanagers, "python": self.python}))
        if self.wait_taskmanagers(self.taskmanagers, timeout):
            return self
        self.stop()
        raise RuntimeError(f"flink cluster at {self.address} did not come up in {timeout} s; logs in {self.log_dir}")

    @classmethod
    def from_dir(cls, work_dir: Path | str) -> StandaloneCluster:
        """The cluster a ``start`` recorded in ``work_dir`` (FileNotFoundError when none was started there)."""
        meta = json.loads((Path(work_dir) / "cluster.json").read_text())
        return cls(work_dir, rest_port=meta["rest_port"], rpc_port=meta["rpc_port"], slots=meta["slots"],
                   python_executable=meta["python"], taskmanagers=meta["taskmanagers"])

    def add_taskmanager(self, timeout: float = 90.0) -> None:
        """Start one more TaskManager (``taskmanager.sh start``)."""
        subprocess.run(self._script("taskmanager.sh") + ["start"], env=self._env(), check=True,
                       capture_output=True, timeout=timeout)

    def taskmanager_pids(self) -> list[int]:
        """Process ids of the running TaskManagers (from the scripts' pid file)."""
        return self._pids("taskexecutor")

    def pids(self) -> list[int]:
        """Process ids of the JobManager and the running TaskManagers."""
        return self._pids("standalonesession") + self._pids("taskexecutor")

    def _pids(self, kind: str) -> list[int]:
        pids = []
        for path in (self.work_dir / "pid").glob(f"*{kind}*.pid"):
            for line in path.read_text().split():
                if line.isdigit() and Path(f"/proc/{line}").exists():
                    pids.append(int(line))
        return sorted(pids)

    def wait_taskmanagers(self, count: int, timeout: float) -> bool:
        """Until the JobManager reports ``count`` TaskManagers (True), or ``timeout`` s passed (False)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                if self.overview().get("taskmanagers", 0) == count:
                    return True
            except OSError:
                pass
            time.sleep(0.3)
        return False

    def overview(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://{self.address}/overview", timeout=2) as resp:
            return json.loads(resp.read())

    def jobs(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"http://{self.address}/jobs/overview", timeout=2) as resp:
            return json.loads(resp.read()).get("jobs", [])

    def stop(self, timeout: float = 60.0) -> None:
        """Stop every TaskManager started here, then the JobManager."""
        subprocess.run(self._script("taskmanager.sh") + ["stop-all"], env=self._env(), capture_output=True,
                       timeout=timeout)
        subprocess.run(self._script("stop-cluster.sh"), env=self._env(), capture_output=True, timeout=timeout)
        end = time.monotonic() + 10.0
        while self.taskmanager_pids() and time.monotonic() < end:
            time.sleep(0.2)
        for pid in self.taskmanager_pids():  # still there after the scripts' SIGTERM and 10 s
            os.kill(pid, signal.SIGKILL)

    def __enter__(self) -> StandaloneCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
