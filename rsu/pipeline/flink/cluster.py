"""Start and stop a standalone Flink cluster from the PyFlink wheel (``pyflink/bin/start-cluster.sh``).

The wheel's ``conf/`` is copied to a folder of ours with the ports, the worker Python and the pid/log
folders set; ``FLINK_CONF_DIR``/``FLINK_LOG_DIR`` point the scripts there. Submit with
``rsu run CONFIG --runner flink --flink-address 127.0.0.1:<rest_port>``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

__all__ = ["StandaloneCluster", "free_port", "flink_home"]


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
    """A one-JobManager, one-TaskManager cluster on loopback, under ``work_dir``."""

    def __init__(self, work_dir: Path | str, *, rest_port: int | None = None, rpc_port: int | None = None,
                 slots: int = 2, python_executable: str | None = None) -> None:
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
            "jobmanager.memory.process.size": "1024m", "taskmanager.memory.process.size": "1536m",
            "python.executable": self.python, "python.client.executable": self.python,
            "env.pid.dir": str(self.work_dir / "pid"), "env.log.dir": str(self.log_dir),
        }
        for key, value in settings.items():
            _set(doc, key, value)
        path.write_text(yaml.safe_dump(doc, sort_keys=False))

    def _env(self) -> dict[str, str]:
        from rsu.pipeline.flink.job import worker_pythonpath

        env = dict(os.environ)
        env.update(FLINK_CONF_DIR=str(self.conf_dir), FLINK_LOG_DIR=str(self.log_dir),
                   PYTHONPATH=worker_pythonpath())
        return env

    def _script(self, name: str) -> list[str]:
        return ["bash", str(self.home / "bin" / name)]

    def start(self, timeout: float = 90.0) -> StandaloneCluster:
        """Start it and wait until the REST endpoint reports a TaskManager."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        (self.work_dir / "pid").mkdir(exist_ok=True)
        self.log_dir.mkdir(exist_ok=True)
        self._write_conf()
        subprocess.run(self._script("start-cluster.sh"), env=self._env(), check=True, capture_output=True,
                       timeout=timeout)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                if self.overview().get("taskmanagers", 0) >= 1:
                    return self
            except OSError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"flink cluster at {self.address} did not come up in {timeout} s; logs in {self.log_dir}")

    def overview(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://{self.address}/overview", timeout=2) as resp:
            return json.loads(resp.read())

    def jobs(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"http://{self.address}/jobs/overview", timeout=2) as resp:
            return json.loads(resp.read()).get("jobs", [])

    def stop(self, timeout: float = 60.0) -> None:
        subprocess.run(self._script("stop-cluster.sh"), env=self._env(), capture_output=True, timeout=timeout)

    def __enter__(self) -> StandaloneCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
