"""Shared test fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository checkout the tests run from."""
    return REPO


def _why_no_broker() -> str | None:
    import shutil

    from rsu.kafka.jars import libs_dir, pinned

    if shutil.which("java") is None:
        return "no Java 17 on PATH: the Kafka broker cannot run"
    libs = libs_dir()
    missing = [n for n in pinned() if not (libs / n).is_file()]
    if missing:
        return f"Kafka jars not fetched ({libs}): run `rsu kafka fetch`"
    return None


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One real single-node broker per test session, from the fetched jars (skips, saying why, without them)."""
    from rsu.kafka.broker import running_broker

    reason = _why_no_broker()
    if reason:
        pytest.skip(reason)
    with running_broker(tmp_path_factory.mktemp("kafka-broker"), partitions=3) as broker:
        yield broker
