"""Templates of a third-party plugin distribution (``rsu plugin new NAME``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

__all__ = ["PluginNames", "RESERVED_NAMES", "TEMPLATES", "plugin_names", "render_plugin"]

RESERVED_NAMES = frozenset({"enabled", "failure_limit", "queue_size", "newest_wins", "safety_queue_size",
                            "stop_timeout_s", "stall_after_s", "rsu", "sdk"})
"""Names a plugin cannot take: the keys of the ``plugins`` config section, and the host's own."""

_NAME = re.compile(r"^[a-z][a-z0-9]*(?:[_-][a-z0-9]+)*$")

TEMPLATES: dict[str, str] = {
    "objects": "a zone counter over fused objects, publishing its own product zone_count",
    "readings": "a sensor threshold that raises and clears alarms (emitted SDK Alarm values)",
}
"""Template name -> what it generates. Files ``<template>_<file>.tmpl`` hold each template's own files."""

FILES: dict[str, str] = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "package_init.py.tmpl": "$package/__init__.py",
    "{template}_README.md.tmpl": "README.md",
    "{template}_plugin.py.tmpl": "$package/plugin.py",
    "{template}_test_plugin.py.tmpl": "tests/test_plugin.py",
}
"""Template file (``{template}`` = the template's name) -> path in the new project (itself a template)."""


@dataclass(frozen=True, slots=True)
class PluginNames:
    """Every spelling of one plugin's name."""

    name: str  # plugin name in the config and entry point: traffic_counter
    dist: str  # distribution: rsu-traffic-counter
    package: str  # import package: rsu_traffic_counter
    class_name: str  # TrafficCounter
    title: str  # Traffic counter


def plugin_names(raw: str) -> PluginNames:
    """Derive the names from what the user typed (``traffic-counter``, ``rsu_traffic_counter`` ...).

    :raises ValueError: the name is not lower-case letters, digits, ``-`` or ``_``, or is reserved.
    """
    text = raw.strip().lower()
    for prefix in ("rsu-", "rsu_"):
        text = text.removeprefix(prefix)
    if not _NAME.match(text):
        raise ValueError(f"plugin name {raw!r}: use lower-case letters, digits, '-' or '_', starting with a letter")
    name = text.replace("-", "_")
    if name in RESERVED_NAMES:
        raise ValueError(f"plugin name {raw!r} is reserved (a key of the plugins config section)")
    words = name.split("_")
    return PluginNames(name=name, dist="rsu-" + "-".join(words), package="rsu_" + name,
                       class_name="".join(w.capitalize() for w in words),
                       title=" ".join(words).capitalize())


def render_plugin(raw_name: str, parent: Path, template: str = "objects") -> Path:
    """Write a new plugin project from ``template`` (see :data:`TEMPLATES`) to ``parent/<name>``.

    :returns: the new project folder.
    :raises ValueError: a bad name or an unknown template.
    :raises FileExistsError: the folder exists and is not empty.
    """
    if template not in TEMPLATES:
        raise ValueError(f"template {template!r}: expected one of {', '.join(TEMPLATES)}")
    names = plugin_names(raw_name)
    dest = parent / names.name
    if dest.exists() and any(dest.iterdir()):
        raise FileExistsError(f"{dest} already exists and is not empty")
    values = {"name": names.name, "dist": names.dist, "package": names.package,
              "class_name": names.class_name, "title": names.title}
    root = resources.files(__name__)
    for source, target in FILES.items():
        path_in = source.format(template=template)
        text = Template(root.joinpath(path_in).read_text(encoding="utf-8")).substitute(values)
        path = dest / Template(target).substitute(values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return dest
