"""Check one source entry before a running box starts it, as ``rsu check`` checks the sources of a config.

The entry is validated as item ``sources[i]`` of the running config (``i`` = the next index), so every problem
names the key path the entry will have when written to the file: the config model (types, ranges, unknown
keys with a suggestion, whole-config rules), then the start-up checks of :mod:`rsu.app.preflight` for that
source only (files and recordings, plugin kinds and their schema) and its ports (two entries on one port, a
port another process holds).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rsu.config import ConfigError, RsuConfig, parse_config
from rsu.core.errors import SourceRejected

__all__ = ["SourceRejected", "check_new_source", "source_problems_at"]


def _at(index: int) -> re.Pattern[str]:
    return re.compile(rf"^sources\[{index}\](?=[.: (\[]|$)")


def source_problems_at(cfg: RsuConfig, index: int, base_dir: Path, kinds: Mapping[str, Any], *,
                       ports: bool = True) -> list[str]:
    """What ``rsu check`` reports about ``cfg.sources[index]``: files, recordings, plugin kinds, and with
    ``ports`` its ports (conflicts with the config's other entries; in use by another process)."""
    from rsu.app.preflight import source_problems
    from rsu.app.preflight_ports import bind_conflicts, planned_binds, ports_in_use

    mine = _at(index)
    problems = [p for p in source_problems(cfg, base_dir, kinds) if mine.match(p)]
    if not ports:
        return problems
    binds = planned_binds(cfg)
    conflicts = [p for p in bind_conflicts(binds) if mine.match(p)]
    problems += conflicts
    if not conflicts:
        problems += ports_in_use([b for b in binds if mine.match(b.key)])
    return list(dict.fromkeys(problems))


def check_new_source(cfg: RsuConfig, entry: Any, *, base_dir: Path, kinds: Mapping[str, Any],
                     has_detector: bool) -> RsuConfig:
    """``cfg`` with ``entry`` appended to its sources, checked as ``rsu check`` would check that entry.

    :param kinds: the source types the box knows (``type`` -> :class:`rsu_sdk.SourceSpec`).
    :param has_detector: the box runs the camera detector (it started with a camera).
    :raises SourceRejected: 400 naming each problem by its key path; 409 for an id already taken or a camera
        on a box without a detector.
    """
    index = len(cfg.sources)
    where = f"sources[{index}]"
    if not isinstance(entry, dict):
        raise SourceRejected(400, [f"{where}: expected a mapping (key: value lines), got {type(entry).__name__}"])
    taken = {s.id: i for i, s in enumerate(cfg.sources)}
    if isinstance(entry.get("id"), str) and entry["id"] in taken:
        raise SourceRejected(409, [f"{where}.id: duplicate id {entry['id']!r} (also sources[{taken[entry['id']]}]);"
                                   " remove that source first, or restart it"])
    raw: dict[str, Any] = {name: getattr(cfg, name) for name in cfg.model_fields_set}
    raw["sources"] = [*cfg.sources, entry]
    try:
        new = parse_config(raw, "source")
    except ConfigError as exc:
        raise SourceRejected(400, exc.problems) from None
    src = new.sources[index]
    if not src.enabled:
        return new  # like `rsu check`: a disabled entry is only validated
    problems = source_problems_at(new, index, base_dir, kinds)
    if problems:
        raise SourceRejected(400, problems)
    if src.type == "camera" and not has_detector:
        raise SourceRejected(409, [f"{where}.type: this box started without a camera, so it runs no detector; "
                                   "add the camera to the config and restart the box"])
    return new
