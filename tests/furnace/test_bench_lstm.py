"""``rsu bench lstm --quick`` smoke test: DESIGN keys, same-run baseline, sane values (no timing asserts)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from rsu.cli import main


def test_bench_lstm_quick():
    result = CliRunner().invoke(main, ["bench", "lstm", "--quick", "--json"])
    assert result.exit_code == 0, result.output
    r = json.loads(result.output.strip().splitlines()[-1])
    for key in ("raw_p50_ms", "batch1_p50_ms", "batch1_p99_ms", "windows_per_s", "batch1_over_raw"):
        assert r[key] > 0, key
    assert r["batch1_p99_ms"] >= r["batch1_p50_ms"]
    assert r["window"] == 60 and r["channels"] == 10
    assert sum(int(k) * v for k, v in r["dynamic_batches"].items()) > 0
