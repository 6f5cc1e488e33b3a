"""Versioned global models on disk: ``<root>/<model>/v000007/model.onnx`` plus ``info.json``.

Version 0 is the template (the model a plugin ships); every :class:`GlobalModel` becomes the next folder,
written to a temporary folder and renamed into place, so a reader sees a whole version or none.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rsu.federated.messages import GlobalModel
from rsu.federated.weights import Weights, read_weights, weights_digest, write_weights

__all__ = ["ModelStore", "StoredVersion", "registered_model_path"]

MODEL_FILE = "model.onnx"
INFO_FILE = "info.json"


@dataclass(frozen=True, slots=True)
class StoredVersion:
    model: str
    version: int
    path: Path
    info: dict[str, Any]

    def read_bytes(self) -> bytes:
        return self.path.read_bytes()


def registered_model_path(name: str) -> Path:
    """The file of the model ``name`` that an installed plugin registers (e.g. ``fault-lstm``)."""
    from rsu.plugins.manager import create_plugin_manager
    from rsu.plugins.registry import collect_models

    specs = collect_models(create_plugin_manager(None).pm)
    if name not in specs:
        raise ValueError(f"no installed plugin registers model {name!r} (registered: {', '.join(sorted(specs))}); "
                         "set federated.aggregator.template to an ONNX file")
    return Path(specs[name].path)


class ModelStore:
    """The versions of ``model`` under ``root``; ``template`` seeds version 0 when the store is empty."""

    def __init__(self, root: str | Path, model: str, template: str | Path) -> None:
        self.model = model
        self.dir = Path(root) / model
        self.template = Path(template)
        self._lock = threading.Lock()
        self.template_weights: Weights = read_weights(self.template)
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.latest_version() is None:
            self._write(0, self.template.read_bytes(), {"contributors": [], "samples": 0, "from": str(self.template)})

    @staticmethod
    def _folder(version: int) -> str:
        return f"v{version:06d}"

    def versions(self) -> list[int]:
        return sorted(int(p.name[1:]) for p in self.dir.glob("v[0-9]*") if p.is_dir() and (p / INFO_FILE).is_file())

    def latest_version(self) -> int | None:
        v = self.versions()
        return v[-1] if v else None

    def get(self, version: int | None = None) -> StoredVersion:
        """A stored version (the latest when None); raises KeyError when absent."""
        v = self.latest_version() if version is None else version
        folder = self.dir / self._folder(v) if v is not None else None
        if folder is None or not (folder / INFO_FILE).is_file():
            raise KeyError(f"model {self.model!r} has no version {version}")
        info = json.loads((folder / INFO_FILE).read_text(encoding="utf-8"))
        return StoredVersion(self.model, int(v), folder / MODEL_FILE, info)

    def publish(self, gm: GlobalModel) -> StoredVersion:
        """Write ``gm`` as its version (ONNX = the template with the averaged weights)."""
        if gm.model != self.model:
            raise ValueError(f"store for {self.model!r} cannot hold model {gm.model!r}")
        data = write_weights(self.template, gm.weights)
        return self._write(gm.version, data, {"contributors": list(gm.contributors), "samples": gm.samples,
                                               "weights_digest": weights_digest(gm.weights)})

    def _write(self, version: int, data: bytes, extra: dict[str, Any]) -> StoredVersion:
        with self._lock:
            final = self.dir / self._folder(version)
            if final.exists():
                raise FileExistsError(f"model {self.model!r} version {version} already stored at {final}")
            tmp = self.dir / f".tmp-{self._folder(version)}-{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            (tmp / MODEL_FILE).write_bytes(data)
            info = {"model": self.model, "version": version, "sha256": hashlib.sha256(data).hexdigest(),
                    "bytes": len(data), "created_ns": time.time_ns(), **extra}
            (tmp / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
            os.replace(tmp, final)
        return StoredVersion(self.model, version, final / MODEL_FILE, info)
