"""Fixtures of the dust_control tests."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from dust_helpers import SprayerServer


@pytest.fixture
def sprayer_server() -> Iterator[SprayerServer]:
    """A started sprayer rack on a free loopback port."""
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    server = SprayerServer().start()
    yield server
    server.close()
