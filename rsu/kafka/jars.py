"""The Kafka broker's jars: fetched once at set-up with Maven, pinned by version and sha256, never at run time.

``pom.xml`` (next to this module) names ``org.apache.kafka:kafka_2.13`` and a log4j binding; Maven resolves their
runtime dependencies from Maven Central into ``<assets>/kafka/<version>/libs``; then every jar is checked against
``jars.sha256`` (``sha256sum`` format, committed): a jar missing from the list, listed but missing, or with another
digest fails the fetch, naming the jar, and nothing is installed.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from rsu.assets.paths import assets_dir
from rsu.core.digest import sha256_file

__all__ = ["POM", "CHECKSUMS", "JarsError", "kafka_version", "libs_dir", "pinned", "verify", "fetch",
           "write_checksums", "sha256_file"]

HERE = Path(__file__).resolve().parent
POM = HERE / "pom.xml"
CHECKSUMS = HERE / "jars.sha256"
_NS = {"m": "http://maven.apache.org/POM/4.0.0"}

Progress = Callable[[str], None]


class JarsError(RuntimeError):
    """The jars are absent, do not match the pinned list, or could not be fetched; the message says which."""


def kafka_version(pom: Path = POM) -> str:
    """The pinned Kafka version (``kafka.version`` of the pom)."""
    node = ET.parse(pom).getroot().find("m:properties/m:kafka.version", _NS)
    if node is None or not (node.text or "").strip():
        raise JarsError(f"{pom}: no <kafka.version> property")
    return node.text.strip()


def libs_dir(assets: str | Path | None = None) -> Path:
    """Where the jars of the pinned version live (not created)."""
    return assets_dir(assets) / "kafka" / kafka_version() / "libs"


def pinned(checksums: Path = CHECKSUMS) -> dict[str, str]:
    """Jar name -> sha256 from the committed list."""
    out: dict[str, str] = {}
    for n, line in enumerate(checksums.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2 or len(parts[0]) != 64:
            raise JarsError(f"{checksums}:{n}: expected '<sha256>  <jar>', got {line!r}")
        out[parts[1]] = parts[0]
    if not out:
        raise JarsError(f"{checksums}: lists no jars")
    return out


def verify(libs: Path, expected: dict[str, str] | None = None) -> list[str]:
    """Problems with the jars in ``libs`` (empty when every pinned jar is there with its digest and no other)."""
    expected = pinned() if expected is None else expected
    if not libs.is_dir():
        return [f"{libs} does not exist"]
    present = {p.name: p for p in libs.glob("*.jar")}
    problems = [f"{name}: missing" for name in sorted(expected.keys() - present.keys())]
    problems += [f"{name}: not in the pinned list {CHECKSUMS.name}" for name in sorted(present.keys() - expected.keys())]
    for name in sorted(expected.keys() & present.keys()):
        digest = sha256_file(present[name])
        if digest != expected[name]:
            problems.append(f"{name}: sha256 {digest}, pinned {expected[name]}")
    return problems


def _maven(dest: Path, progress: Progress) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise JarsError("Maven (`mvn`) is not installed; it is needed once, at set-up, to fetch the Kafka jars")
    cmd = [mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies", "-DincludeScope=runtime",
           f"-DoutputDirectory={dest}"]
    progress(f"mvn dependency:copy-dependencies (kafka {kafka_version()}) -> {dest}")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        tail = " | ".join((proc.stdout + proc.stderr).strip().splitlines()[-4:])
        raise JarsError(f"fetching the Kafka jars failed: {tail}")


def fetch(assets: str | Path | None = None, progress: Progress = lambda _line: None, *,
          update_checksums: bool = False) -> Path:
    """Fetch and verify the jars (skipped when already there and verified); returns the libs folder.

    ``update_checksums`` (after a deliberate version change in the pom) rewrites ``jars.sha256`` from what
    Maven fetched instead of checking against it.
    """
    libs = libs_dir(assets)
    if not update_checksums and libs.is_dir() and not verify(libs):
        progress(f"{libs}: already fetched and verified")
        return libs
    libs.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="libs.", dir=libs.parent) as tmp:
        staged = Path(tmp) / "libs"
        _maven(staged, progress)
        if update_checksums:
            write_checksums(staged)
            progress(f"wrote {CHECKSUMS}")
        problems = verify(staged)
        if problems:
            raise JarsError("the fetched Kafka jars do not match the pinned list: " + "; ".join(problems))
        if libs.exists():
            shutil.rmtree(libs)
        staged.rename(libs)
    total = sum(p.stat().st_size for p in libs.glob("*.jar"))
    progress(f"{len(list(libs.glob('*.jar')))} jars verified, {total / 1e6:.1f} MB in {libs}")
    return libs


def write_checksums(libs: Path, target: Path = CHECKSUMS) -> None:
    """Write the list of ``libs``' jars and their sha256 (the pin to commit)."""
    lines = [f"# sha256 of every jar `rsu kafka fetch` installs (kafka {kafka_version()}); sha256sum format"]
    lines += [f"{sha256_file(p)}  {p.name}" for p in sorted(libs.glob("*.jar"))]
    target.write_text("\n".join(lines) + "\n")
