"""Errors the runtime layers share (below the packages that raise them)."""

from __future__ import annotations

__all__ = ["ModelError"]


class ModelError(RuntimeError):
    """A model file is missing, unreadable, or not what the detector expects; the message names the file."""
