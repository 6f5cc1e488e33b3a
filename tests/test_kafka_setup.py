"""Set-up of the Kafka broker: the pinned jar list, clear errors when jars are absent, the config section.

The last test runs the real `rsu kafka start|status|stop` on its own state folder (skipped without the jars).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from rsu.cli import main
from rsu.config.kafka import KafkaConfig
from rsu.kafka.broker import BrokerError, KafkaBroker, free_port
from rsu.kafka.jars import CHECKSUMS, POM, kafka_version, libs_dir, pinned, verify


def test_the_pin_names_the_broker_and_its_version() -> None:
    names = pinned()
    version = kafka_version()
    assert version.startswith("4.")
    assert f"kafka_2.13-{version}.jar" in names and f"kafka-server-{version}.jar" in names
    assert f"kafka-storage-{version}.jar" in names and f"kafka-clients-{version}.jar" in names
    assert all(len(digest) == 64 for digest in names.values())
    assert POM.is_file() and CHECKSUMS.is_file()


def test_verify_names_missing_unlisted_and_altered_jars(tmp_path: Path) -> None:
    good, bad = b"jar one", b"jar two"
    expected = {"a.jar": hashlib.sha256(good).hexdigest(), "b.jar": hashlib.sha256(bad).hexdigest(),
                "c.jar": "0" * 64}
    (tmp_path / "a.jar").write_bytes(good)
    (tmp_path / "b.jar").write_bytes(b"tampered")
    (tmp_path / "extra.jar").write_bytes(b"?")
    problems = verify(tmp_path, expected)
    assert any(p.startswith("b.jar: sha256") for p in problems)
    assert "c.jar: missing" in problems
    assert any(p.startswith("extra.jar: not in the pinned list") for p in problems)
    assert not any(p.startswith("a.jar") for p in problems)
    assert verify(tmp_path / "nowhere", expected) == [f"{tmp_path / 'nowhere'} does not exist"]


def test_start_without_jars_says_to_fetch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RSU_ASSETS", str(tmp_path / "assets"))
    with pytest.raises(BrokerError, match=r"not fetched .*run `rsu kafka fetch`"):
        KafkaBroker(tmp_path / "state", port=free_port(), controller_port=free_port()).start()
    result = CliRunner().invoke(main, ["kafka", "start", "--state", str(tmp_path / "state"),
                                       "--port", str(free_port()), "--controller-port", str(free_port())])
    assert result.exit_code == 1 and "rsu kafka fetch" in result.output
    result = CliRunner().invoke(main, ["kafka", "status", "--state", str(tmp_path / "state"), "--json"])
    info = json.loads(result.output)
    assert result.exit_code == 1 and info["running"] is False
    assert info["jars"] == "not fetched: run `rsu kafka fetch`"


def test_kafka_config_checks_its_values() -> None:
    cfg = KafkaConfig()
    assert cfg.bootstrap_servers == "127.0.0.1:9092" and cfg.products is None and cfg.topic_prefix == "rsu"
    with pytest.raises(ValidationError, match="topic_prefix"):
        KafkaConfig(topic_prefix="rsu/site")
    with pytest.raises(ValidationError, match="safety products cannot be lowered"):
        KafkaConfig(priorities={"fault": "low"})
    with pytest.raises(ValidationError, match="enable.idempotence"):
        KafkaConfig(client={"enable.idempotence": False})
    with pytest.raises(ValidationError, match="max_bytes"):
        KafkaConfig(journal={"max_bytes": 10})
    with pytest.raises(ValidationError, match="unknown_key|Extra inputs"):
        KafkaConfig(unknown_key=1)


@pytest.mark.kafka
def test_cli_starts_reports_and_stops_a_broker(tmp_path: Path) -> None:
    if shutil.which("java") is None or verify(libs_dir()):
        pytest.skip("Kafka jars not fetched or no Java: run `rsu kafka fetch`")
    state = tmp_path / "kafka"
    port, cport = free_port(), free_port()
    runner = CliRunner()
    try:
        result = runner.invoke(main, ["kafka", "start", "--state", str(state), "--port", str(port),
                                      "--controller-port", str(cport), "--partitions", "2"])
        assert result.exit_code == 0, result.output
        assert f"ready on 127.0.0.1:{port}" in result.output
        assert (state / "data" / "meta.properties").is_file()
        result = runner.invoke(main, ["kafka", "status", "--state", str(state), "--json"])
        info = json.loads(result.output)
        assert result.exit_code == 0 and info["running"] and info["serving"] and info["jars"] == "verified"
        assert info["bootstrap"] == f"127.0.0.1:{port}"
        again = runner.invoke(main, ["kafka", "start", "--state", str(state), "--port", str(port),
                                     "--controller-port", str(cport)])
        assert "already running" in again.output
    finally:
        result = runner.invoke(main, ["kafka", "stop", "--state", str(state)])
    assert result.exit_code == 0 and "stopped" in result.output
    assert KafkaBroker.from_state(state).pid() is None
    result = runner.invoke(main, ["kafka", "status", "--state", str(state)])
    assert result.exit_code == 1 and "not running" in result.output
