"""Errors raised by the SDK and understood by the rsu host."""

from __future__ import annotations

__all__ = ["RsuError", "InvalidDataError", "PluginConfigError", "PublishError"]


class RsuError(Exception):
    """Base class of every error rsu and its SDK raise on purpose."""


class InvalidDataError(RsuError, ValueError):
    """A value passed to or from a plugin has the wrong shape, type or range.

    The message names the field and what was expected, e.g.
    ``Detections.xyxy: expected shape (N, 4), got (3, 5)``.
    """


class PluginConfigError(RsuError):
    """A plugin's section of the configuration is invalid.

    :param plugin: the plugin name.
    :param problems: one ``"dotted.path: reason"`` string per problem.
    """

    def __init__(self, plugin: str, problems: list[str]) -> None:
        self.plugin = plugin
        self.problems = list(problems)
        super().__init__(f"plugin {plugin!r}: " + "; ".join(self.problems))


class PublishError(RsuError):
    """A payload could not be published (bad product name, not JSON-serialisable, ...)."""
