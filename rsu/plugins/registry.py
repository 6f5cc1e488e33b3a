"""Collect what plugins register (sources, encoders, models) once, each implementation isolated.

Every ``rsu_register_*`` implementation is called on its own inside a try/except: a plugin that raises
or returns the wrong type is logged with its name and skipped; the others still register.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import pluggy
from rsu_sdk.records import EncoderSpec, ModelSpec, SourceSpec, StageSpec

__all__ = ["call_impl", "collect_encoders", "installed_decoders", "collect_models", "collect_sources", "collect_stages",
           "collect_records", "impls_of"]

log = logging.getLogger("rsu.plugins")

R = TypeVar("R")


def impls_of(pm: pluggy.PluginManager, hook_name: str) -> list[pluggy.HookImpl]:
    """The plain implementations of ``hook_name`` (wrappers skipped), in pluggy's call order."""
    caller = getattr(pm.hook, hook_name)
    return [i for i in reversed(caller.get_hookimpls()) if not (i.hookwrapper or i.wrapper)]


def call_impl(impl: pluggy.HookImpl, **kwargs: Any) -> Any:
    """Call one implementation the way pluggy does: positionally, with the arguments it asks for."""
    return impl.function(*[kwargs[name] for name in impl.argnames])


def collect_records(
    pm: pluggy.PluginManager,
    hook_name: str,
    record_type: type[R],
    key: Callable[[R], str],
    problems: list[str] | None = None,
) -> dict[str, R]:
    """Call ``hook_name`` per plugin and index the returned records by ``key``.

    :param problems: when given, one ``plugin <name>: reason`` line per failure is appended to it.
    :returns: key -> record; on a duplicate key the implementation pluggy calls first wins (one marked
        ``tryfirst``, else the last registered) and the others are reported.
    """
    found: dict[str, R] = {}
    owner: dict[str, str] = {}

    def problem(text: str) -> None:
        log.error(text)
        if problems is not None:
            problems.append(text)

    for impl in impls_of(pm, hook_name):
        name = impl.plugin_name
        try:
            records = call_impl(impl)
        except Exception as exc:  # noqa: BLE001 - one plugin's bug must not stop the others registering
            problem(f"plugin {name}: {hook_name} raised {type(exc).__name__}: {exc}")
            continue
        if records is None:
            continue
        if isinstance(records, record_type):
            records = [records]
        try:
            items = list(records)
        except TypeError:
            problem(f"plugin {name}: {hook_name} must return a list of {record_type.__name__}, "
                    f"got {type(records).__name__}")
            continue
        for i, record in enumerate(items):
            if not isinstance(record, record_type):
                problem(f"plugin {name}: {hook_name}[{i}]: expected {record_type.__name__}, "
                        f"got {type(record).__name__}")
                continue
            k = key(record)
            if k in found:
                problem(f"plugin {name}: {hook_name}: {k!r} is already registered by plugin {owner[k]}")
                continue
            found[k], owner[k] = record, name
    return found


def collect_encoders(pm: pluggy.PluginManager, problems: list[str] | None = None) -> dict[str, EncoderSpec]:
    """Binary formats by ``encoding`` name (``rsu tap`` decodes V2X bodies with these)."""
    return collect_records(pm, "rsu_register_encoders", EncoderSpec, lambda r: r.name, problems)


def collect_sources(pm: pluggy.PluginManager, problems: list[str] | None = None) -> dict[str, SourceSpec]:
    """Plugin source kinds by their ``type`` value."""
    return collect_records(pm, "rsu_register_sources", SourceSpec, lambda r: r.kind, problems)


def collect_stages(pm: pluggy.PluginManager, problems: list[str] | None = None) -> dict[str, StageSpec]:
    """Dataflow stages and outputs by ``name [thread]`` (a stage may run in more than one way)."""
    return collect_records(pm, "rsu_register_stages", StageSpec, lambda r: f"{r.name} [{r.thread}]", problems)


def collect_models(pm: pluggy.PluginManager, problems: list[str] | None = None) -> dict[str, ModelSpec]:
    """Model files plugins use, by model name."""
    return collect_records(pm, "rsu_register_models", ModelSpec, lambda r: r.name, problems)


def installed_decoders() -> dict[str, Callable[[bytes], Any]]:
    """``encoding`` -> decode function from every installed plugin's ``rsu_register_encoders`` (``rsu tap``);
    empty, with a warning, when the plugins cannot be loaded (binary bodies then print as base64)."""
    try:
        from rsu.plugins.manager import create_plugin_manager

        encoders = collect_encoders(create_plugin_manager(None).pm)
    except Exception as exc:  # noqa: BLE001 - the tap still prints JSON payloads without plugins
        log.warning("no plugin decoders (%s: %s); binary bodies print as base64", type(exc).__name__, exc)
        return {}
    return {name: spec.decode for name, spec in encoders.items()}
