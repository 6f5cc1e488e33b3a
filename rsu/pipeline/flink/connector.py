"""The Flink job's Kafka connector jar: fetched once at set-up with Maven, pinned by sha256, never at run time;
then the job's own JVM module is built (:mod:`rsu.pipeline.flink.job_jar`).

``deploy/flink/pom.xml`` names ``org.apache.flink:flink-sql-connector-kafka`` (kafka-clients shaded inside, no
other jar needed); Maven copies it into ``<assets>/flink/<version>/lib`` and every jar is checked against
``deploy/flink/jars.sha256``: a jar missing, unlisted or with another digest fails the fetch, naming it.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from rsu.assets.paths import assets_dir
from rsu.kafka.jars import JarsError, pinned, sha256_file
from rsu.pipeline.flink.job_jar import build_job_jar, job_jar

__all__ = ["DEPLOY", "POM", "CHECKSUMS", "connector_version", "lib_dir", "verify", "fetch", "connector_jars"]

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "flink"
POM = DEPLOY / "pom.xml"
CHECKSUMS = DEPLOY / "jars.sha256"
_NS = {"m": "http://maven.apache.org/POM/4.0.0"}


def connector_version(pom: Path = POM) -> str:
    """The pinned connector version (``connector.version`` of the pom)."""
    if not pom.is_file():
        raise JarsError(f"{pom} not found: `rsu flink fetch` runs from a checkout of the project")
    node = ET.parse(pom).getroot().find("m:properties/m:connector.version", _NS)
    if node is None or not (node.text or "").strip():
        raise JarsError(f"{pom}: no <connector.version> property")
    return node.text.strip()


def lib_dir(assets: str | Path | None = None) -> Path:
    """Where the jars of the pinned version live (not created)."""
    return assets_dir(assets) / "flink" / connector_version() / "lib"


def verify(lib: Path) -> list[str]:
    """Problems with the jars in ``lib`` (empty when every pinned jar is there with its digest and no other)."""
    expected = pinned(CHECKSUMS)
    if not lib.is_dir():
        return [f"{lib} does not exist"]
    present = {p.name: p for p in lib.glob("*.jar")}
    problems = [f"{name}: missing" for name in sorted(expected.keys() - present.keys())]
    problems += [f"{name}: not in {CHECKSUMS}" for name in sorted(present.keys() - expected.keys())]
    problems += [f"{name}: sha256 differs from the pin" for name in sorted(expected.keys() & present.keys())
                 if sha256_file(present[name]) != expected[name]]
    return problems


def connector_jars(assets: str | Path | None = None) -> list[Path]:
    """The jars to add to a job: the verified connector and the job's JVM module built from this checkout's
    sources; JarsError naming the fix when they are absent or altered."""
    lib = lib_dir(assets)
    problems = verify(lib)
    if problems:
        raise JarsError(f"the Flink Kafka connector is not fetched ({'; '.join(problems)}): run `rsu flink fetch`")
    return [*sorted(lib.glob("*.jar")), job_jar(lib)]


def fetch(assets: str | Path | None = None, progress: Callable[[str], None] = lambda _line: None, *,
          update_checksums: bool = False) -> Path:
    """Fetch and verify the jars (skipped when already there and verified); returns the lib folder."""
    lib = lib_dir(assets)
    if not update_checksums and not verify(lib):
        progress(f"{lib}: already fetched and verified")
        build_job_jar(lib, progress)
        return lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise JarsError("Maven (`mvn`) is not installed; it is needed once, at set-up, to fetch the connector")
    lib.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lib.", dir=lib.parent) as tmp:
        staged = Path(tmp) / "lib"
        cmd = [mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies", "-DincludeScope=runtime",
               f"-DoutputDirectory={staged}"]
        progress(f"mvn dependency:copy-dependencies (flink-sql-connector-kafka {connector_version()}) -> {lib}")
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
        if proc.returncode != 0:
            tail = " | ".join((proc.stdout + proc.stderr).strip().splitlines()[-4:])
            raise JarsError(f"fetching the Flink connector failed: {tail}")
        if update_checksums:
            lines = [f"# sha256 of every jar `rsu flink fetch` installs (flink-sql-connector-kafka "
                     f"{connector_version()}); sha256sum format"]
            lines += [f"{sha256_file(p)}  {p.name}" for p in sorted(staged.glob("*.jar"))]
            CHECKSUMS.write_text("\n".join(lines) + "\n")
        problems = verify(staged)
        if problems:
            raise JarsError("the fetched connector jars do not match the pin: " + "; ".join(problems))
        if lib.exists():
            shutil.rmtree(lib)
        staged.rename(lib)
    build_job_jar(lib, progress)
    return lib
