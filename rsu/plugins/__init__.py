"""The plugin host: discovery (:mod:`.manager`), settings (:mod:`.settings`), registration records
(:mod:`.registry`) and isolated execution (:mod:`.host`, :mod:`.worker`).

Plugins themselves import only :mod:`rsu_sdk`; nothing here is API for them.
"""

from rsu.plugins.host import PluginHost
from rsu.plugins.manager import LoadedPlugins, PluginInfo, PluginLoadError, create_plugin_manager
from rsu.plugins.registry import collect_encoders, collect_models, collect_sources
from rsu.plugins.settings import check_plugins, plugin_problems

__all__ = [
    "LoadedPlugins",
    "PluginHost",
    "PluginInfo",
    "PluginLoadError",
    "check_plugins",
    "collect_encoders",
    "collect_models",
    "collect_sources",
    "create_plugin_manager",
    "plugin_problems",
]
