"""Repository-wide pytest rules (tests/ and plugins/*/tests).

Tests that need the official ETSI ASN.1 modules skip when ``../shared/asn1`` beside the checkout is absent,
and say how to run them. With ``RSU_REQUIRE_OFFICIAL_ASN1=1`` (``scripts/test.sh`` sets it when that folder is
there) such a skip is a failure instead: the cross-check must run wherever it can.
"""

from __future__ import annotations

import os

import pytest

_MARK = "official ETSI"
_HINT = ("; to run these, put the ETSI CPM/DENM ASN.1 folders (etsi-cpm-ts103324v211, etsi-denm-ts103831v231) "
         "in shared/asn1 beside the checkout")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or not isinstance(report.longrepr, tuple):
        return
    path, line, reason = report.longrepr
    if _MARK not in reason:
        return
    if os.environ.get("RSU_REQUIRE_OFFICIAL_ASN1") == "1":
        report.outcome = "failed"
        report.longrepr = f"{reason}: the official modules are required here (RSU_REQUIRE_OFFICIAL_ASN1=1) but the " \
                          "cross-check could not run"
    elif "beside the checkout" not in reason or _HINT not in reason:
        report.longrepr = (path, line, reason + _HINT)
