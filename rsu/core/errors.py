"""Errors the runtime layers share (below the packages that raise them)."""

from __future__ import annotations

__all__ = ["ModelError", "SourceRejected"]


class ModelError(RuntimeError):
    """A model file is missing, unreadable, or not what the detector expects; the message names the file."""


class SourceRejected(Exception):
    """A request to add, remove or restart a source on a running box that cannot be done: ``status`` is its
    HTTP status (400 invalid, 404 unknown id, 409 conflict with the running box, 503 stopping), ``problems`` one
    line each."""

    def __init__(self, status: int, problems: list[str]) -> None:
        self.status = status
        self.problems = problems
        super().__init__("; ".join(problems))
