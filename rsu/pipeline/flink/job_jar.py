"""The JVM half of the Kafka-fed job (``deploy/flink/job``, Java): built once at set-up with Maven, never at run time.

``rsu flink fetch`` copies the module to a temporary folder and runs ``mvn -q -B -C package`` there (``-C``: a
dependency whose checksum differs from Maven Central's fails the build; the Flink and connector versions are
pinned in its pom and are *provided*: the cluster and the connector jar bring them at run time). The jar lands in
``<assets>/flink/<connector version>/job/rsu-flink-job-<digest>.jar``, ``<digest>`` the first 16 hex digits of
the sha256 of the module's sources, so a jar built from other sources is never taken for this checkout's.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from rsu.kafka.jars import JarsError

__all__ = ["MODULE", "source_digest", "job_jar_path", "job_jar", "build_job_jar"]

MODULE = Path(__file__).resolve().parents[3] / "deploy" / "flink" / "job"


def _sources(module: Path = MODULE) -> list[Path]:
    if not (module / "pom.xml").is_file():
        raise JarsError(f"{module}/pom.xml not found: the Flink job module comes with a checkout of the project")
    return [module / "pom.xml", *sorted(p for p in (module / "src").rglob("*") if p.is_file())]


def source_digest(module: Path = MODULE) -> str:
    """sha256 over the module's pom and sources (relative path and bytes of each), 16 hex digits."""
    h = hashlib.sha256()
    for path in _sources(module):
        h.update(path.relative_to(module).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def job_jar_path(lib: Path) -> Path:
    """Where the jar of this checkout's sources lives, beside the connector's ``lib`` folder."""
    return lib.parent / "job" / f"rsu-flink-job-{source_digest()}.jar"


def job_jar(lib: Path) -> Path:
    """The built jar of this checkout's sources; JarsError naming the fix when it is not built."""
    path = job_jar_path(lib)
    if not path.is_file():
        raise JarsError(f"the Flink job's JVM module is not built for these sources ({path} is missing): "
                        f"run `rsu flink fetch`")
    return path


def build_job_jar(lib: Path, progress: Callable[[str], None] = lambda _line: None) -> Path:
    """Build the jar (skipped when this checkout's is there); returns its path. Old builds are removed."""
    target = job_jar_path(lib)
    if target.is_file():
        progress(f"{target}: already built from these sources")
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise JarsError("Maven (`mvn`) is not installed; it is needed once, at set-up, to build the Flink job module")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rsu-flink-job-") as tmp:
        work = Path(tmp) / "job"
        shutil.copytree(MODULE, work, ignore=shutil.ignore_patterns("target"))
        progress(f"mvn package ({MODULE.relative_to(MODULE.parents[2])}) -> {target}")
        proc = subprocess.run([mvn, "-q", "-B", "-C", "package"], cwd=work, capture_output=True, text=True,
                              timeout=1800)
        if proc.returncode != 0:
            tail = " | ".join((proc.stdout + proc.stderr).strip().splitlines()[-6:])
            raise JarsError(f"building the Flink job module failed: {tail}")
        for old in target.parent.glob("rsu-flink-job-*.jar"):
            old.unlink()
        shutil.copy2(work / "target" / "rsu-flink-job.jar", target)
    return target
