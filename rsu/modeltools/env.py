"""Keep ultralytics off the network and tell the user which extra is missing.

Call :func:`import_ultralytics` (never ``import ultralytics`` directly): it sets ``YOLO_OFFLINE=1``,
``YOLO_AUTOINSTALL=false`` and a project ``YOLO_CONFIG_DIR`` *before* the first import, because ultralytics
reads them at import time.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

TOOLS_HINT = "pip install 'rsu[tools]'"


class ToolsMissingError(ModuleNotFoundError):
    """The ``tools`` extra (torch, ultralytics, torch-pruning, onnx) is not installed; ``name`` is the module."""


def cache_dir() -> Path:
    """The rsu cache folder: ``$RSU_CACHE_DIR``, else ``$XDG_CACHE_HOME/rsu``, else ``~/.cache/rsu``."""
    if env := os.environ.get("RSU_CACHE_DIR"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rsu"


def set_offline_env() -> None:
    """Force ultralytics offline (no downloads, no pip auto-install) with its settings in our cache folder."""
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_AUTOINSTALL"] = "false"
    os.environ.setdefault("YOLO_VERBOSE", "false")
    if "YOLO_CONFIG_DIR" not in os.environ:
        cfg = cache_dir() / "ultralytics"
        cfg.mkdir(parents=True, exist_ok=True)
        os.environ["YOLO_CONFIG_DIR"] = str(cfg)


def require(module: str) -> ModuleType:
    """Import ``module`` or raise :class:`ToolsMissingError` naming the ``tools`` extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ToolsMissingError(
            f"{module!r} is not installed ({exc}); the model toolchain needs the tools extra: {TOOLS_HINT}",
            name=module,
        ) from None


def import_ultralytics() -> ModuleType:
    """Set the offline environment, then import ultralytics (and torch)."""
    set_offline_env()
    require("torch")
    require("torchvision")
    return require("ultralytics")


def have_tools() -> bool:
    """True when torch, torchvision and ultralytics can be imported (does not import them)."""
    from importlib.util import find_spec

    return all(find_spec(m) is not None for m in ("torch", "torchvision", "ultralytics"))


F = TypeVar("F", bound=Callable[..., Any])


def torch_threads(fn: F) -> F:
    """Run ``fn`` with torch limited to ``$RSU_TORCH_THREADS`` threads (default 1), restored afterwards.

    The toolchain's torch work is a few small forward passes; on a shared 2-core box torch's OpenMP pool
    spin-waits against other processes and one thread is several times faster than two.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        torch = require("torch")
        old = torch.get_num_threads()
        torch.set_num_threads(max(1, int(os.environ.get("RSU_TORCH_THREADS", "1"))))
        try:
            return fn(*args, **kwargs)
        finally:
            torch.set_num_threads(old)

    return wrapper  # type: ignore[return-value]
