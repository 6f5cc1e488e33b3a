"""Run a fuzz target for a bounded time: coverage-guided with atheris (libFuzzer) when it is installed,
else by random mutation of the seed corpus. Either way: the number of inputs tried, and the findings.

A finding is saved (``crash-*`` under the artifacts folder) and turns into a regression test by copying it
into ``tests/fuzz_corpus/<target>/``: every seed there is replayed by ``tests/test_fuzz_corpus.py``.
"""

from __future__ import annotations

import logging
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from rsu.fuzz.targets import Target

__all__ = ["FuzzResult", "atheris_available", "fuzz", "replay_seeds", "seeds_of"]

_EXECUTED = re.compile(r"stat::number_of_executed_units:\s*(\d+)")
_DONE = re.compile(r"Done (\d+) runs in")


@dataclass(slots=True)
class FuzzResult:
    target: str
    engine: str
    seconds: float
    inputs: int = 0
    findings: list[str] = field(default_factory=list)  # saved inputs (paths) or descriptions
    detail: str = ""

    @property
    def ok(self) -> bool:
        return not self.findings


def atheris_available() -> bool:
    try:
        import atheris  # noqa: F401
    except ImportError:
        return False
    return True


def seeds_of(corpus: Path | None) -> list[bytes]:
    if corpus is None or not corpus.is_dir():
        return []
    return [p.read_bytes() for p in sorted(corpus.iterdir()) if p.is_file()]


def replay_seeds(target: Target, seeds: list[bytes]) -> list[str]:
    """Run every seed once; the tracebacks of those that are findings."""
    out = []
    logging.disable(logging.CRITICAL)
    try:
        for seed in seeds:
            try:
                target.run(seed)
            except Exception:  # noqa: BLE001 - any exception a target lets out is a finding
                out.append(traceback.format_exc(limit=6))
    finally:
        logging.disable(logging.NOTSET)
    return out


def fuzz(target: Target, seconds: float, *, corpus: Path | None, artifacts: Path, engine: str = "auto",
         seed: int = 0) -> FuzzResult:
    """Fuzz ``target`` for ``seconds``; ``engine`` ``atheris``, ``random`` or ``auto`` (atheris when installed)."""
    artifacts.mkdir(parents=True, exist_ok=True)
    if engine == "auto":
        engine = "atheris" if atheris_available() else "random"
    if engine == "atheris":
        return _atheris(target, seconds, corpus, artifacts)
    return _random(target, seconds, seeds_of(corpus), artifacts, seed)


def _atheris(target: Target, seconds: float, corpus: Path | None, artifacts: Path) -> FuzzResult:
    result = FuzzResult(target.name, "atheris", seconds)
    with tempfile.TemporaryDirectory(prefix=f"rsu-fuzz-{target.name}-") as work:
        # libFuzzer writes new inputs into the first corpus folder: a scratch one, never the seeds in the repo
        cmd = [sys.executable, "-m", "rsu.fuzz.worker", target.name, f"-max_total_time={max(1, int(seconds))}",
               f"-artifact_prefix={artifacts}{os.sep}", "-print_final_stats=1", "-rss_limit_mb=2048",
               "-timeout=10", "-max_len=65536", work]
        if corpus is not None and corpus.is_dir():
            cmd.append(str(corpus))
        before = set(artifacts.iterdir())
        proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=seconds + 120)
        log_text = proc.stderr + proc.stdout
    m = _EXECUTED.search(log_text) or _DONE.search(log_text)
    result.inputs = int(m.group(1)) if m else 0
    new = sorted(str(p) for p in set(artifacts.iterdir()) - before)
    if proc.returncode != 0 or new:
        result.findings = new or [f"libFuzzer exited {proc.returncode}"]
        result.detail = log_text[-4000:]
    return result


_INTERESTING = [b"\x00", b"\xff", b"[", b"{", b"}", b"]", b'"', b"1e400", b"NaN", b"-1", b"9" * 30, b"\n", b"#",
                b"(", b")", b",", b":", b"null", b"true", b"\xfe\xff"]


def _mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(6)
        pos = rng.randrange(len(buf) + 1)
        if op == 0 and buf:
            buf[min(pos, len(buf) - 1)] = rng.randrange(256)
        elif op == 1:
            buf[pos:pos] = rng.choice(_INTERESTING)
        elif op == 2 and buf:
            del buf[pos:pos + rng.randint(1, 16)]
        elif op == 3 and buf:
            a = rng.randrange(len(buf))
            buf[pos:pos] = buf[a:a + rng.randint(1, 32)]
        elif op == 4:
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 5 and buf:
            buf[min(pos, len(buf) - 1)] ^= 1 << rng.randrange(8)
    return bytes(buf[:65536])


def _random(target: Target, seconds: float, seeds: list[bytes], artifacts: Path, seed: int) -> FuzzResult:
    result = FuzzResult(target.name, "random", seconds)
    rng = random.Random(seed)
    pool = seeds or [b""]
    deadline = time.monotonic() + seconds
    logging.disable(logging.CRITICAL)
    try:
        while time.monotonic() < deadline:
            data = _mutate(rng.choice(pool), rng)
            result.inputs += 1
            try:
                target.run(data)
            except Exception:  # noqa: BLE001 - any exception a target lets out is a finding
                import hashlib

                path = artifacts / f"crash-{hashlib.sha1(data).hexdigest()}"
                path.write_bytes(data)
                result.findings.append(str(path))
                result.detail = traceback.format_exc(limit=8)
                break
    finally:
        logging.disable(logging.NOTSET)
    return result
