"""The fuzzing harness itself: every seed of every target passes (findings that became seeds stay fixed), and
``rsu fuzz`` counts its inputs and exits non-zero on a finding."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rsu.cli import main
from rsu.fuzz.runner import atheris_available, fuzz, replay_seeds, seeds_of
from rsu.fuzz.targets import TARGETS, Target

CORPUS = Path(__file__).parent / "fuzz_corpus"


def test_every_target_has_a_seed_corpus() -> None:
    assert sorted(p.name for p in CORPUS.iterdir() if p.is_dir() and p.name != "known") == sorted(TARGETS)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_seeds_pass(name: str) -> None:
    seeds = seeds_of(CORPUS / name)
    assert seeds and replay_seeds(TARGETS[name], seeds) == []


def test_list_names_every_target() -> None:
    out = CliRunner().invoke(main, ["fuzz", "--list"])
    assert out.exit_code == 0 and [line.split()[0] for line in out.output.splitlines()] == list(TARGETS)
    bad = CliRunner().invoke(main, ["fuzz", "nothing", "--seconds", "1"])
    assert bad.exit_code == 2 and "unknown target" in bad.output


def test_random_engine_counts_inputs(tmp_path: Path) -> None:
    out = CliRunner().invoke(main, ["fuzz", "radar-udp", "--seconds", "1", "--engine", "random", "--json",
                                    "--corpus", str(CORPUS / "radar-udp"), "--artifacts", str(tmp_path)])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert doc["inputs"] > 0 and doc["findings"] == [] and doc["seeds"] == 2 and doc["engine"] == "random"


def test_a_finding_is_saved_and_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def brittle(data: bytes) -> None:
        if b"{" in data:
            raise IndexError("a decoder that trips on a brace")

    monkeypatch.setitem(TARGETS, "brittle", Target("brittle", "test", brittle, ()))
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "a").write_bytes(b"abc")
    out = CliRunner().invoke(main, ["fuzz", "brittle", "--seconds", "30", "--engine", "random", "--corpus",
                                    str(tmp_path / "seeds"), "--artifacts", str(tmp_path / "art")])
    assert out.exit_code == 1 and "1 finding(s)" in out.output
    saved = list((tmp_path / "art" / "brittle").iterdir())
    assert len(saved) == 1 and b"{" in saved[0].read_bytes()
    res = fuzz(TARGETS["brittle"], 30, corpus=tmp_path / "seeds", artifacts=tmp_path / "art2", engine="random")
    assert not res.ok and res.inputs >= 1 and "IndexError" in res.detail


@pytest.mark.skipif(not atheris_available(), reason="atheris is not installed (x86-64 Linux wheels)")
def test_atheris_engine_counts_inputs(tmp_path: Path) -> None:
    out = CliRunner().invoke(main, ["fuzz", "ars408-frame", "--seconds", "2", "--engine", "atheris", "--json",
                                    "--corpus", str(CORPUS / "ars408-frame"), "--artifacts", str(tmp_path)])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert doc["inputs"] > 100 and doc["findings"] == [] and doc["engine"] == "atheris"
    assert sorted(p.name for p in (CORPUS / "ars408-frame").iterdir()) == ["extended", "general", "quality", "state",
                                                                           "status"]  # seeds left as they were
