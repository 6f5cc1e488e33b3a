"""rsu plugin ``dust_control``: PM2.5 from air stations switches the nearest dust sprayers over Modbus TCP.

Entry point ``dust_control`` in group ``rsu.plugins`` -> :class:`rsu_dust_control.plugin.DustControl`.
Imports ``rsu_sdk`` (and pymodbus) only, never the host.
"""

from __future__ import annotations

from rsu_dust_control.plugin import DustControl
from rsu_dust_control.rules import Decision, RuleEngine
from rsu_dust_control.settings import CONFIG_SCHEMA, parse_settings

__version__ = "0.1.0"

__all__ = ["CONFIG_SCHEMA", "Decision", "DustControl", "RuleEngine", "__version__", "parse_settings"]
