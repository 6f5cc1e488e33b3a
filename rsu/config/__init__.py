"""Configuration: YAML validated by pydantic; unknown keys rejected; errors as dotted key paths."""

from rsu.config.loader import ConfigError, format_loc, load_config, parse_config
from rsu.config.root import RsuConfig

__all__ = ["ConfigError", "RsuConfig", "format_loc", "load_config", "parse_config"]
