"""The ``plugins`` section: which plugins run, how they are isolated, and each one's settings."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, field_validator

from rsu.config.base import StrictModel


class PluginsConfig(StrictModel):
    """``enabled`` lists the plugins to run (all others are blocked); any other key is a plugin's own
    settings section (``plugins.<name>``), validated against the schema that plugin declares."""

    model_config = ConfigDict(extra="allow", frozen=True)

    enabled: list[str] = Field(default_factory=list)
    failure_limit: int = Field(default=5, gt=0, description="consecutive failures before a plugin is disabled")
    queue_size: int = Field(default=256, gt=0,
                            description="non-safety products queued per plugin before the oldest is shed")
    newest_wins: bool = Field(default=True, description="a non-safety product replaces the one of the same source "
                              "and device still queued for a plugin (false: all are queued, e.g. to replay a "
                              "recording unpaced through a plugin)")
    safety_queue_size: int = Field(default=100_000, gt=0, description="safety products (alarms, actuation, health) "
                                   "queued per plugin before the caller waits for room; they are never dropped")
    stop_timeout_s: float = Field(default=5.0, gt=0, description="how long shutdown waits for a plugin to drain")
    stall_after_s: float = Field(default=10.0, gt=0,
                                 description="products waiting this long untaken show the plugin as stalled")

    @field_validator("enabled")
    @classmethod
    def _each_once(cls, value: list[str]) -> list[str]:
        first: dict[str, int] = {}
        for i, name in enumerate(value):
            if name in first:
                raise ValueError(f"plugin {name!r} is enabled twice ([{first[name]}] and [{i}]); list it once")
            first[name] = i
        return value

    def settings_for(self, name: str) -> dict[str, Any]:
        """The settings section of plugin ``name`` (empty when absent)."""
        return dict((self.model_extra or {}).get(name) or {})

    def sections(self) -> dict[str, Any]:
        """All plugin settings sections by plugin name."""
        return dict(self.model_extra or {})
