"""Where the assets live: ``$RSU_ASSETS``, else ``<checkout>/assets`` when running from a git checkout,
else ``~/.cache/rsu/assets``. The project's own models (trained by rsu's code, :data:`PROJECT_MODELS`) ship
inside the package, in ``rsu/models/``."""

from __future__ import annotations

import os
from pathlib import Path

from rsu.core.errors import ModelError

__all__ = ["ENV_VAR", "PROJECT_MODELS", "assets_dir", "project_models_dir", "resolve_model", "data_file"]

ENV_VAR = "RSU_ASSETS"
PROJECT_MODELS: dict[str, str] = {
    # the pruned YOLOv5s student distilled from NanoDet-m on vtest.avi (rsu model distill; docs/models.md)
    "yolov5s-vtest": "yolov5s-vtest-int8.onnx",
    "yolov5s-vtest-fp32": "yolov5s-vtest-fp32.onnx",
}
"""Model name -> file in :func:`project_models_dir` (each with ``<stem>.record.json`` beside it)."""


def project_models_dir() -> Path:
    """``rsu/models/``: the models the package ships."""
    return Path(__file__).resolve().parents[1] / "models"


def _checkout_root() -> Path | None:
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / ".git").exists():
        return root
    return None


def assets_dir(override: str | Path | None = None) -> Path:
    """The assets folder (not created)."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    root = _checkout_root()
    return root / "assets" if root else Path.home() / ".cache" / "rsu" / "assets"


def resolve_model(name: str, directory: str | Path | None = None) -> Path:
    """A model file: an existing path as given, else the fetched asset of that name."""
    from rsu.assets.manifest import MODELS

    path = Path(name).expanduser()
    if path.suffix.lower() in (".onnx", ".tflite") or path.is_file():
        if not path.is_file():
            raise ModelError(f"model file not found: {path}")
        return path
    if name in PROJECT_MODELS:
        own = project_models_dir() / PROJECT_MODELS[name]
        if not own.is_file():
            raise ModelError(f"model {name!r} is not in this installation ({own} missing): rebuild it with "
                             "`rsu model distill` (docs/models.md)")
        return own
    model = MODELS.get(name)
    if model is None:
        known = ", ".join([*MODELS, *PROJECT_MODELS])
        raise ModelError(f"unknown model {name!r}: give a .onnx/.tflite file or one of {known}")
    found = assets_dir(directory) / model.path
    if not found.is_file():
        raise ModelError(f"model {name!r} is not fetched yet ({found} missing): run `rsu assets fetch`")
    return found


def data_file(relative: str, directory: str | Path | None = None) -> Path:
    """A fetched sample data file, e.g. ``data/bus.jpg``."""
    path = assets_dir(directory) / relative
    if not path.is_file():
        raise FileNotFoundError(f"{path} missing: run `rsu assets fetch`")
    return path
