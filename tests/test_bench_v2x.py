"""``rsu bench v2x``: smoke test, and the host reaching the CPM codec through the plugin registry only."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from rsu.cli import main

pytest.importorskip("rsu_traffic_broadcast", reason="the traffic_broadcast plugin is not installed")


def test_bench_v2x_quick_prints_the_design_keys() -> None:
    result = CliRunner().invoke(main, ["bench", "v2x", "--quick", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert set(out["objects"]) == {"1", "10", "30", "100"}
    for n, row in out["objects"].items():
        assert {"encode_ms", "decode_ms", "bytes"} <= set(row)
        assert row["encode_ms"] > 0 and row["decode_ms"] > 0 and row["json_encode_ms"] > 0
        assert row["bytes"] < row["json_bytes"], n                 # UPER is far smaller than the JSON baseline
    sizes = [out["objects"][n]["bytes"] for n in ("1", "10", "30", "100")]
    assert sizes == sorted(sizes) and len(set(sizes)) == 4
    assert out["headroom_10hz_30"] == pytest.approx(100.0 / out["objects"]["30"]["encode_ms"], rel=0.01)


def test_the_host_finds_the_cpm_encoder_through_the_registry() -> None:
    from rsu.bench.v2x import SITE, find_encoder, make_objects

    spec = find_encoder("cpm-uper")
    body = spec.encode_objects(make_objects(3), SITE)
    doc = spec.decode(body)
    assert doc["header"]["messageId"] == 14
    assert spec.encode(doc) == body
