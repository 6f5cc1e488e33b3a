"""Validate the ``plugins`` section: enabled plugins installed, each ``plugins.<name>`` against its schema.

Every problem is one ``plugins.<name>.<dotted.path>: reason`` line, like the rest of ``rsu check``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rsu.plugins.manager import LoadedPlugins, create_plugin_manager
from rsu.plugins.registry import call_impl, impls_of

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

__all__ = ["check_plugins", "config_schema_of", "format_path", "plugin_problems", "schema_problems"]


def format_path(prefix: str, path: Sequence[Any]) -> str:
    """``prefix`` + ``.key`` per string and ``[i]`` per index: ``plugins.x.zones[1].limit``."""
    out = prefix
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _lines(prefix: str, error: ValidationError) -> list[str]:
    path = list(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        allowed = set((error.schema or {}).get("properties", {}))
        extra = [k for k in error.instance if k not in allowed]
        if extra:
            from rsu.config.suggest import nearest_key

            hints = {k: nearest_key(k, sorted(allowed)) for k in extra}
            return [f"{format_path(prefix, [*path, k])}: unknown key" + (f"; did you mean {h}?" if h else "")
                    for k, h in hints.items()]
    if error.validator == "required" and isinstance(error.validator_value, list):
        missing = [k for k in error.validator_value
                   if isinstance(error.instance, Mapping) and k not in error.instance]
        if missing:
            return [f"{format_path(prefix, [*path, k])}: required key is missing" for k in missing]
    return [f"{format_path(prefix, path)}: {error.message}"]


def schema_problems(prefix: str, schema: Mapping[str, Any], section: Any) -> list[str]:
    """Validate ``section`` against a JSON Schema; one ``prefix.path: reason`` line per problem."""
    import jsonschema  # imported here: ``rsu tap`` loads plugins without validating settings

    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        return [f"{prefix}: the plugin declares an invalid config schema: {exc.message}"]
    errors = sorted(cls(schema).iter_errors(section), key=lambda e: [str(p) for p in e.absolute_path])
    # dict.fromkeys: one ``required`` error per missing key each list all of them; keep each line once
    return list(dict.fromkeys(line for e in errors for line in _lines(prefix, e)))


def config_schema_of(loaded: LoadedPlugins, name: str) -> Mapping[str, Any] | None:
    """The schema plugin ``name`` declares through ``rsu_config_schema`` (exceptions propagate)."""
    for impl in impls_of(loaded.pm, "rsu_config_schema"):
        if impl.plugin_name == name:
            return call_impl(impl)
    return None


def _section_problems(loaded: LoadedPlugins, name: str, section: Any) -> list[str]:
    prefix = f"plugins.{name}"
    try:
        schema = config_schema_of(loaded, name)
    except Exception as exc:  # noqa: BLE001 - a plugin bug is reported, not raised
        return [f"{prefix}: rsu_config_schema raised {type(exc).__name__}: {exc}"]
    if schema is None:
        if section not in (None, {}):
            return [f"{prefix}: plugin {name!r} takes no settings (it declares no config schema)"]
        return []
    if not isinstance(schema, Mapping):
        return [f"{prefix}: rsu_config_schema must return a mapping, got {type(schema).__name__}"]
    return schema_problems(prefix, schema, {} if section is None else section)


def plugin_problems(
    loaded: LoadedPlugins, enabled: Sequence[str], sections: Mapping[str, Any]
) -> list[str]:
    """Check the ``plugins`` section against what is installed and what each plugin declares.

    Problems: an enabled plugin that is not installed or failed to load; a settings section for a plugin
    that is not installed; an enabled plugin's section that does not match its schema.
    """
    from rsu.config.suggest import nearest_key

    problems: list[str] = []
    installed = sorted(n for n, i in loaded.plugins.items() if i.status != "missing")
    known = ", ".join(installed) or "none"
    for i, name in enumerate(enabled):
        info = loaded.plugins.get(name)
        if info is None or info.status == "missing":
            guess = nearest_key(name, installed)
            problems.append(f"plugins.enabled[{i}]: plugin {name!r} is not installed (installed: {known})"
                            + (f"; did you mean {guess}?" if guess else ""))
        elif info.status == "failed":
            problems.append(f"plugins.enabled[{i}]: plugin {name!r} failed to load: {info.error}")
    for name, section in sections.items():
        info = loaded.plugins.get(name)
        if info is None or info.status == "missing":
            problems.append(f"plugins.{name}: no plugin named {name!r} is installed (installed: {known})")
    for name in enabled:
        info = loaded.plugins.get(name)
        if info is not None and info.status == "loaded":
            problems.extend(_section_problems(loaded, name, sections.get(name)))
    return problems


def check_plugins(plugins: Any, extra_plugins: Sequence[tuple[str, object]] = ()) -> list[str]:
    """``rsu check``: load exactly the enabled plugins of a ``PluginsConfig`` and list every problem."""
    loaded = create_plugin_manager(plugins.enabled, extra_plugins=extra_plugins)
    return plugin_problems(loaded, plugins.enabled, plugins.sections())
