"""A single-node Kafka broker + KRaft controller on loopback, run from the fetched jars, for the demo and tests.

Everything lives in one state folder (default ``var/kafka``): ``server.properties`` and ``log4j2.properties``
(rewritten on each start from the arguments), ``data/`` (the KRaft metadata and the topic logs, formatted once,
kept across restarts), ``broker.log``, ``stdout.log`` and ``broker.pid``. The broker runs detached (its own
session), so it outlives the command that started it; :meth:`KafkaBroker.stop` sends SIGTERM (a clean shutdown:
logs flushed, controller resigned) and SIGKILL only after the deadline.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rsu.kafka.jars import JarsError, kafka_version, libs_dir, pinned

__all__ = ["BrokerError", "KafkaBroker", "running_broker", "free_port"]

_READY_LINE = "Kafka Server started"
_POLL_S = 0.1


class BrokerError(RuntimeError):
    """The broker could not be started, is not running, or could not be stopped; the message says why."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _with_parent(cmd: list[str]) -> list[str]:
    """``cmd`` set to get SIGTERM when this process ends (util-linux ``setpriv --pdeathsig``, where present;
    no ``preexec_fn``, which is unsafe with the client's threads running)."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", "--", *cmd] if setpriv else cmd


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).is_file():
        raise BrokerError("no Java found (set JAVA_HOME or put `java` 17+ on PATH): the broker needs Java 17")
    return java


def _cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (as ``kafka-storage random-uuid``)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


class KafkaBroker:
    """One KRaft broker+controller (``process.roles=broker,controller``) listening on 127.0.0.1 only.

    :param state: the state folder (created).
    :param port: the client listener (``bootstrap.servers`` = ``127.0.0.1:<port>``).
    :param controller_port: the KRaft controller listener.
    :param partitions: ``num.partitions`` of auto-created topics.
    :param heap: the JVM's maximum heap (``-Xmx``).
    :param libs: the jars folder (default: the fetched pinned version under the assets folder).
    :param java_options: extra JVM options (``rsu bench kafka-flink`` runs its broker C1 only,
        ``-XX:TieredStopAtLevel=1``, so a fresh broker's JIT does not take the cores the job is measured on).
    """

    def __init__(self, state: str | Path = "var/kafka", *, port: int = 9092, controller_port: int = 9093,
                 partitions: int = 4, heap: str = "512m", libs: str | Path | None = None,
                 java_options: tuple[str, ...] = ()) -> None:
        if port == controller_port:
            raise BrokerError(f"port and controller port must differ, both are {port}")
        if partitions < 1:
            raise BrokerError(f"partitions: expected >= 1, got {partitions}")
        self.state = Path(state).resolve()
        self.port, self.controller_port, self.partitions, self.heap = port, controller_port, partitions, heap
        self.libs = Path(libs) if libs is not None else libs_dir()
        self.java_options = tuple(java_options)
        self._proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def from_state(cls, state: str | Path = "var/kafka", **kwargs: Any) -> KafkaBroker:
        """The broker of an existing state folder, with the ports its ``server.properties`` names."""
        props = Path(state) / "server.properties"
        if props.is_file():
            for line in props.read_text().splitlines():
                key, _, value = line.partition("=")
                if key == "listeners":
                    ports = dict(item.split("://127.0.0.1:") for item in value.split(","))
                    kwargs.setdefault("port", int(ports["PLAINTEXT"]))
                    kwargs.setdefault("controller_port", int(ports["CONTROLLER"]))
                elif key == "num.partitions":
                    kwargs.setdefault("partitions", int(value))
        return cls(state, **kwargs)

    # -- paths and files ---------------------------------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.state / "broker.log"

    @property
    def _pid_file(self) -> Path:
        return self.state / "broker.pid"

    @property
    def _data(self) -> Path:
        return self.state / "data"

    def _properties(self) -> str:
        c = self.controller_port
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{c}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{c}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self._data),
            "num.partitions": str(self.partitions),
            "auto.create.topics.enable": "true",
            # one node: every internal topic has one replica (offsets, transactions for exactly-once sinks)
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
        }
        return "".join(f"{k}={v}\n" for k, v in settings.items())

    def _log4j(self) -> str:
        return (
            "status = warn\n"
            "appender.file.type = File\n"
            "appender.file.name = file\n"
            f"appender.file.fileName = {self.log_file}\n"
            "appender.file.layout.type = PatternLayout\n"
            "appender.file.layout.pattern = [%d] %p %m (%c)%n\n"
            "rootLogger.level = INFO\n"
            "rootLogger.appenderRef.file.ref = file\n"
            "logger.kafka.name = org.apache.kafka\nlogger.kafka.level = WARN\n"
            "logger.server.name = kafka.server.KafkaRaftServer\nlogger.server.level = INFO\n"
        )

    def _check_jars(self) -> None:
        try:
            names = pinned()
        except (OSError, JarsError) as exc:
            raise BrokerError(f"the pinned jar list is unreadable: {exc}") from None
        missing = [n for n in names if not (self.libs / n).is_file()]
        if missing:
            raise BrokerError(f"the Kafka {kafka_version()} jars are not fetched ({self.libs}: {len(missing)} of "
                              f"{len(names)} missing, e.g. {missing[0]}): run `rsu kafka fetch` once at set-up")

    def _java_cmd(self, main: str, *args: str) -> list[str]:
        return [_java(), f"-Xmx{self.heap}", "-Xms64m", "-XX:+UseSerialGC", *self.java_options,
                "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={self.state / 'log4j2.properties'}",
                "-cp", str(self.libs / "*"), main, *args]

    def _write_config(self) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        (self.state / "server.properties").write_text(self._properties())
        (self.state / "log4j2.properties").write_text(self._log4j())

    def _format(self) -> None:
        """Format the KRaft storage once (kept across restarts)."""
        if (self._data / "meta.properties").is_file():
            return
        cmd = self._java_cmd("kafka.tools.StorageTool", "format", "-t", _cluster_id(),
                             "-c", str(self.state / "server.properties"))
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            raise BrokerError(f"formatting KRaft storage in {self._data} failed: "
                              + " | ".join((proc.stdout + proc.stderr).strip().splitlines()[-3:]))

    # -- lifecycle -----------------------------------------------------------------------------------------------

    def pid(self) -> int | None:
        """The running broker's pid, or None (a stale pid file is ignored)."""
        try:
            pid = int(self._pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        if b"kafka.Kafka" not in cmdline or str(self.state).encode() not in cmdline or not _alive(pid):
            return None  # a reused pid, not our broker
        return pid

    def start(self, timeout: float = 120.0, *, detach: bool = True) -> None:
        """Format if needed, start the broker and wait until it serves clients; no-op when already running.

        ``detach``: the broker gets its own session and outlives this process (the CLI); otherwise it gets
        SIGTERM when this process ends, so a killed test run leaves no broker behind."""
        if self.pid() is not None:
            return
        self._check_jars()
        for port in (self.port, self.controller_port):
            if _port_open(port):
                raise BrokerError(f"127.0.0.1:{port} is already in use (another broker? `rsu kafka status`)")
        self._write_config()
        self._format()
        self.log_file.unlink(missing_ok=True)
        with (self.state / "stdout.log").open("wb") as out:
            cmd = self._java_cmd("kafka.Kafka", str(self.state / "server.properties"))
            self._proc = subprocess.Popen(cmd if detach else _with_parent(cmd), stdin=subprocess.DEVNULL,
                                          stdout=out, stderr=subprocess.STDOUT, start_new_session=detach)
        self._pid_file.write_text(f"{self._proc.pid}\n")
        deadline = time.monotonic() + timeout
        while not self._ready():
            if self._proc.poll() is not None:
                self._pid_file.unlink(missing_ok=True)
                raise BrokerError(f"the broker exited with {self._proc.returncode} while starting: "
                                  f"{self._tail()} (log: {self.log_file})")
            if time.monotonic() > deadline:
                self.stop()
                raise BrokerError(f"the broker was not ready within {timeout:.0f} s (log: {self.log_file})")
            time.sleep(_POLL_S)

    def _ready(self) -> bool:
        try:
            started = _READY_LINE in self.log_file.read_text(errors="replace")
        except OSError:
            return False
        return started and _port_open(self.port)

    def _tail(self, lines: int = 3) -> str:
        text = ""
        for f in (self.state / "stdout.log", self.log_file):
            try:
                text += f.read_text(errors="replace")
            except OSError:
                pass
        errors = [ln for ln in text.splitlines() if "ERROR" in ln or "Exception" in ln] or text.splitlines()
        return " | ".join(errors[-lines:]) or "no output"

    def stop(self, timeout: float = 60.0) -> bool:
        """Stop the broker cleanly (SIGTERM, then SIGKILL after ``timeout``); False when none was running."""
        pid = self.pid()
        if pid is None:
            self._pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        if not self._wait_gone(pid, timeout):
            os.kill(pid, signal.SIGKILL)
            self._wait_gone(pid, 30.0)
        self._pid_file.unlink(missing_ok=True)
        self._proc = None
        return True

    def _wait_gone(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.pid == pid:
                if self._proc.poll() is not None:
                    return True
            elif not _alive(pid):
                return True
            time.sleep(_POLL_S)
        return False

    def status(self) -> dict[str, Any]:
        """``running``, ``pid``, ``bootstrap``, ``serving`` (the port answers), version, folders."""
        pid = self.pid()
        return {"running": pid is not None, "pid": pid, "bootstrap": self.bootstrap,
                "serving": pid is not None and _port_open(self.port), "version": kafka_version(),
                "state": str(self.state), "libs": str(self.libs), "log": str(self.log_file)}


@contextmanager
def running_broker(state: str | Path, **kwargs: Any) -> Iterator[KafkaBroker]:
    """A started broker on free loopback ports (unless given), stopped on exit (or when this process ends)."""
    kwargs.setdefault("port", free_port())
    kwargs.setdefault("controller_port", free_port())
    broker = KafkaBroker(state, **kwargs)
    broker.start(detach=False)
    try:
        yield broker
    finally:
        broker.stop()
