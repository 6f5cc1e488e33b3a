"""Fixtures of the traffic_broadcast tests."""

from __future__ import annotations

from typing import Any

import pytest
from cpm_helpers import OFFICIAL_DIR, compile_official


@pytest.fixture(scope="session")
def official(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The official ETSI CPM + CDD modules compiled for UPER (with the documented one-line fix)."""
    if not (OFFICIAL_DIR / "CPM-PDU-Descriptions.asn").is_file():
        pytest.skip(f"official ETSI CPM ASN.1 not found at {OFFICIAL_DIR} (the shared/ folder beside the checkout)")
    return compile_official(tmp_path_factory.mktemp("etsi-asn1"))


@pytest.fixture(scope="session")
def official_fixed_size(official: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The official modules compiled with the other reading of cpmContainers' size: SIZE(1..8), no extension
    bit (how asn1c-generated decoders that drop it read the CPM)."""
    return compile_official(tmp_path_factory.mktemp("etsi-asn1-fixed"), size_extension_bit=False)
