"""Build the plugin manager: hookspecs, built-ins, entry points, blocking, ``name-version`` log.

Nothing here runs at import time; :func:`create_plugin_manager` builds a fresh manager on each call.
"""

from __future__ import annotations

import importlib
import importlib.metadata as metadata
import inspect
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import pluggy
import rsu_sdk
from rsu_sdk import hookspecs
from rsu_sdk.errors import RsuError

__all__ = [
    "BUILTIN_PLUGINS",
    "LoadedPlugins",
    "PluginInfo",
    "PluginLoadError",
    "create_plugin_manager",
    "instantiate",
]

log = logging.getLogger("rsu.plugins")

BUILTIN_PLUGINS: tuple[tuple[str, str], ...] = (
    ("rsu-sources", "rsu.sources.builtin:BuiltinSources"),
    ("rsu-flink-results", "rsu.pipeline.flink.results_source:FlinkResults"),
    ("rsu-stages", "rsu.app.stage_specs:BuiltinStages"),
)
"""``(name, "module:attr")`` of plugins shipped inside ``rsu`` itself, loaded like entry points and always
enabled: the host registers its own source types and stages through the same hooks as third parties.

The plugins under ``plugins/`` are separate distributions and register through the ``rsu.plugins``
entry point group instead. Built-ins get no worker (they implement no product hook) and are not part of
:meth:`LoadedPlugins.loaded`.
"""

Status = Literal["loaded", "blocked", "failed", "missing"]


class PluginLoadError(RsuError):
    """Plugins the configuration enables could not be loaded; ``problems`` names each one."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("cannot start plugins: " + "; ".join(self.problems))


@dataclass(slots=True)
class PluginInfo:
    """What the host knows about one plugin, loaded or not.

    :param status: ``loaded`` (registered), ``blocked`` (installed, not enabled), ``failed`` (its import or
        registration raised; see ``error``) or ``missing`` (enabled in the config, not installed).
    :param origin: ``entry point``, ``builtin`` or ``extra`` (handed in by the caller).
    :param target: the entry point value or import spec, e.g. ``rsu_furnace_fault.plugin:FurnaceFault``.
    """

    name: str
    version: str | None
    enabled: bool
    status: Status
    origin: str
    target: str = ""
    hooks: tuple[str, ...] = ()
    error: str | None = None

    @property
    def label(self) -> str:
        """``name-version`` as logged at start-up."""
        return f"{self.name}-{self.version or 'unknown'}"

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly view (``rsu plugins list --json``)."""
        return {
            "name": self.name, "version": self.version, "hooks": list(self.hooks), "enabled": self.enabled,
            "status": self.status, "origin": self.origin, "target": self.target, "error": self.error,
        }


@dataclass(slots=True)
class LoadedPlugins:
    """The result of :func:`create_plugin_manager`: the manager plus one :class:`PluginInfo` per plugin."""

    pm: pluggy.PluginManager
    plugins: dict[str, PluginInfo] = field(default_factory=dict)

    def loaded(self) -> list[str]:
        """Names of the registered plugins the config enabled (built-ins not included), in load order."""
        return [name for name, info in self.plugins.items() if info.status == "loaded" and info.origin != "builtin"]

    def problems(self) -> list[str]:
        """One line per enabled plugin that failed to load or is not installed."""
        installed = sorted(n for n, i in self.plugins.items() if i.status != "missing")
        out = []
        for info in self.plugins.values():
            if info.enabled and info.status == "missing":
                out.append(f"plugin {info.name!r} is enabled but not installed "
                           f"(installed: {', '.join(installed) or 'none'})")
            elif info.enabled and info.status == "failed":
                out.append(f"plugin {info.name!r} failed to load: {info.error}")
        return out

    def require_enabled(self) -> None:
        """Raise :class:`PluginLoadError` when an enabled plugin could not be loaded (stops start-up)."""
        problems = self.problems()
        if problems:
            raise PluginLoadError(problems)


def _fresh_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    return pm


def instantiate(obj: object) -> object:
    """A plugin may be a module, an instance, or a class; a class is instantiated with no arguments."""
    return obj() if inspect.isclass(obj) else obj


def _import_target(target: str) -> object:
    module_name, _, attr = target.partition(":")
    obj: object = importlib.import_module(module_name)
    for part in filter(None, attr.split(".")):
        obj = getattr(obj, part)
    return obj


def _version_of(obj: object, dist_version: str | None) -> str | None:
    if dist_version:
        return dist_version
    version = getattr(obj, "__version__", None)
    if version is None and not inspect.ismodule(obj):
        module = inspect.getmodule(obj)
        version = getattr(module, "__version__", None) if module else None
    return str(version) if version is not None else None


def _candidates(extra_plugins: Iterable[tuple[str, object]]) -> list[tuple[str, str, str, Any, str | None]]:
    """``(name, origin, target, loader-or-object, dist version)`` for every plugin that could be loaded."""
    out: list[tuple[str, str, str, Any, str | None]] = []
    for name, obj in extra_plugins:  # explicit beats discovered: an extra shadows an entry point's name
        target = getattr(obj, "__module__", None) or getattr(obj, "__name__", "") or type(obj).__name__
        out.append((name, "extra", str(target), lambda obj=obj: obj, None))
    for name, spec in BUILTIN_PLUGINS:
        out.append((name, "builtin", spec, lambda spec=spec: _import_target(spec), rsu_sdk.__version__))
    for ep in metadata.entry_points(group=rsu_sdk.ENTRY_POINT_GROUP):
        version = ep.dist.version if ep.dist is not None else None
        out.append((ep.name, "entry point", ep.value, ep.load, version))
    return out


def create_plugin_manager(
    enabled: Iterable[str] | None = None,
    *,
    extra_plugins: Iterable[tuple[str, object]] = (),
) -> LoadedPlugins:
    """Build a fresh plugin manager.

    Order: add the hookspecs, then ``extra_plugins``, built-ins and entry points (group ``rsu.plugins``; a
    name already taken is skipped with a warning), each loaded inside its own try/except; ``set_blocked`` for every plugin not in ``enabled`` (it is not
    even imported); ``check_pending()`` per plugin; log ``name-version`` for each loaded one.

    :param enabled: names to enable, as listed in ``plugins.enabled``; None enables every installed plugin
        (``rsu plugins list``, ``rsu tap``).
    :param extra_plugins: ``(name, plugin)`` pairs registered as if installed (tests, embedding).
    :returns: the manager and a :class:`PluginInfo` per plugin. Enabled plugins that failed or are missing
        are recorded, not raised: call :meth:`LoadedPlugins.require_enabled` to stop start-up on them.
    """
    wanted = None if enabled is None else list(dict.fromkeys(enabled))
    pm = _fresh_manager()
    result = LoadedPlugins(pm)
    for name, origin, target, load, dist_version in _candidates(extra_plugins):
        is_enabled = origin == "builtin" or wanted is None or name in wanted
        if name in result.plugins:
            if is_enabled:
                log.warning("plugin %s from %s ignored: the name is taken by %s", name, target,
                            result.plugins[name].target)
            continue
        info = PluginInfo(name=name, version=dist_version, enabled=is_enabled, status="blocked",
                          origin=origin, target=target)
        result.plugins[name] = info
        if not is_enabled:
            pm.set_blocked(name)
            continue
        try:
            obj = load()
            info.version = _version_of(obj, dist_version)
            plugin = instantiate(obj)
            pm.register(plugin, name=name)
            try:
                pm.check_pending()
            except pluggy.PluginValidationError:
                pm.unregister(name=name)
                raise
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not brick the host
            info.status, info.error = "failed", f"{type(exc).__name__}: {exc}"
            log.error("plugin %s (%s) failed to load: %s", name, target, info.error)
            continue
        info.status = "loaded"
        info.hooks = tuple(sorted(c.name for c in pm.get_hookcallers(plugin) or ()))
        log.info("plugin %s loaded (%s)", info.label, target)
    for name in wanted or ():
        if name not in result.plugins:
            result.plugins[name] = PluginInfo(name=name, version=None, enabled=True, status="missing",
                                              origin="config", error="not installed")
    return result
