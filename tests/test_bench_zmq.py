"""Smoke test of ``rsu bench zmq --quick``: the JSON keys of DESIGN.md, with its same-run baseline."""

from __future__ import annotations

import json

from click.testing import CliRunner

from rsu.cli import main


def test_bench_zmq_quick_prints_the_design_keys() -> None:
    result = CliRunner().invoke(main, ["bench", "zmq", "--quick", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    for key in ("messages_per_s", "p99_ms", "raw_messages_per_s", "raw_p99_ms", "messages_per_s_over_raw",
                "p99_over_raw"):
        assert isinstance(data[key], float) and data[key] > 0, key
    assert data["received"] + data["dropped"] <= data["sent"] and data["received"] > 0
    assert data["objects"] == 30 and data["payload_bytes"] > 5000
    assert data["messages_per_s_over_raw"] == round(data["messages_per_s"] / data["raw_messages_per_s"], 3)
