"""Add or remove one entry of a config file's ``sources`` list, leaving every other line as it was.

PyYAML does not keep comments, so the file is edited as text at the positions PyYAML's composer reports: a
block list gets the new entry after its last item, in the list's own indentation, or loses the lines of the
removed item; a flow list (``sources: []``) or a missing key is rewritten as a block list. The result is parsed
again and must equal the old document with only that change, else nothing is written
(:class:`ConfigEditError`). The file is replaced atomically and keeps its mode.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from rsu.config.yaml_io import YamlReadError, decode_text, parse_yaml

__all__ = ["ConfigEditError", "add_source_text", "persist_add_source", "persist_remove_source",
           "remove_source_text"]


class ConfigEditError(Exception):
    """The config file could not be changed as asked (nothing was written)."""


def _compose(text: str) -> yaml.MappingNode:
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(node, yaml.MappingNode):
        raise ConfigEditError("the file is not a YAML mapping")
    return node


def _sources_node(root: yaml.MappingNode) -> tuple[yaml.Node, yaml.Node] | None:
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "sources":
            return key, value
    return None


def _block(items: list[Any], indent: int) -> str:
    """``items`` as a block list, each line indented by ``indent`` spaces, ending in a newline."""
    text = yaml.safe_dump(items, default_flow_style=False, sort_keys=False, allow_unicode=True, width=1000)
    return "".join(" " * indent + line for line in text.splitlines(keepends=True))


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _content_end(lines: list[str], first: int, stop: int, column: int) -> int:
    """The line after the last line of the item that starts on line ``first``, looking no further than ``stop``:
    trailing blank lines and comments indented no deeper than the list's ``-`` belong to what follows."""
    end = stop
    while end > first + 1:
        line = lines[end - 1]
        if line.strip() and not (line.lstrip().startswith("#") and len(line) - len(line.lstrip()) <= column):
            break
        end -= 1
    return end


def _dash_line(lines: list[str], item_line: int, column: int) -> int:
    """The line of the ``-`` that starts the item whose content begins on ``item_line``."""
    for n in range(min(item_line, len(lines) - 1), -1, -1):
        if len(lines[n]) > column and lines[n][column] == "-":
            return n
    return item_line


def _list_stop(value: yaml.Node, lines: list[str]) -> int:
    """The first line after a block list (where the next key starts, or the end of the file)."""
    mark = value.end_mark
    return min(mark.line if mark.column == 0 else mark.line + 1, len(lines))


def _rewrite_value(text: str, key: yaml.Node, value: yaml.Node, items: list[Any]) -> str:
    """Replace the value of ``sources:`` (a flow list or null) with ``items`` as a block list (``[]`` if none)."""
    colon = text.index(":", key.end_mark.index) + 1
    empty = isinstance(value, yaml.ScalarNode) and value.value == ""  # `sources:` alone: keep what follows
    rest = text[colon if empty else max(value.end_mark.index, colon):]
    if not items:
        return text[:colon] + " []" + rest
    block = _block(items, key.start_mark.column + 2).rstrip("\n")
    return text[:colon] + "\n" + block + ("" if not rest or rest.startswith(("\n", "\r")) else "\n") + rest


def add_source_text(text: str, entry: dict[str, Any]) -> str:
    """``text`` with ``entry`` appended to its ``sources`` list (the list is made when there is none)."""
    root = _compose(text)
    found = _sources_node(root)
    if found is None:
        sep = "" if not text or text.endswith("\n") else "\n"
        return f"{text}{sep}sources:\n{_block([entry], 2)}"
    key, value = found
    if isinstance(value, yaml.SequenceNode) and not value.flow_style and value.value:
        lines = text.splitlines(keepends=True)
        column = value.start_mark.column
        at = _content_end(lines, value.value[-1].start_mark.line, _list_stop(value, lines), column)
        if not lines[at - 1].endswith("\n"):
            lines[at - 1] += "\n"
        lines.insert(at, _block([entry], column))
        return "".join(lines)
    if isinstance(value, yaml.SequenceNode):
        existing = yaml.safe_load(text[value.start_mark.index:value.end_mark.index]) or []
        return _rewrite_value(text, key, value, [*existing, entry])
    if isinstance(value, yaml.ScalarNode) and value.tag == "tag:yaml.org,2002:null":
        return _rewrite_value(text, key, value, [entry])
    raise ConfigEditError("sources: is not a list")


def remove_source_text(text: str, source_id: str) -> str:
    """``text`` without the ``sources`` entry whose ``id`` is ``source_id`` (ConfigEditError when none)."""
    root = _compose(text)
    found = _sources_node(root)
    if found is None or not isinstance(found[1], yaml.SequenceNode):
        raise ConfigEditError(f"no sources entry with id {source_id!r}")
    key, value = found
    ids = [next((v.value for k, v in item.value if isinstance(k, yaml.ScalarNode) and k.value == "id"), None)
           if isinstance(item, yaml.MappingNode) else None for item in value.value]
    if source_id not in ids:
        raise ConfigEditError(f"no sources entry with id {source_id!r}")
    k = ids.index(source_id)
    if value.flow_style:
        items = yaml.safe_load(text[value.start_mark.index:value.end_mark.index])
        del items[k]
        return _rewrite_value(text, key, value, items)
    lines = text.splitlines(keepends=True)
    column = value.start_mark.column
    first = _dash_line(lines, value.value[k].start_mark.line, column)
    last = k + 1 == len(value.value)
    stop = _list_stop(value, lines) if last else _dash_line(lines, value.value[k + 1].start_mark.line, column)
    end = _content_end(lines, first, stop, column)
    if len(value.value) == 1:  # the list would be empty: `sources: []`
        colon = text.index(":", key.end_mark.index) + 1
        return text[:colon] + " []\n" + "".join(lines[end:])
    return "".join(lines[:first] + lines[end:])


def _without_sources(doc: Any) -> Any:
    return {k: v for k, v in doc.items() if k != "sources"} if isinstance(doc, dict) else doc


def _edit(path: Path, change: Any, expect: Any) -> None:
    target = path.resolve()
    try:
        data = target.read_bytes()
        mode = target.stat().st_mode & 0o7777
        text = decode_text(data)
        before = parse_yaml(text) or {}
    except (OSError, YamlReadError) as exc:
        raise ConfigEditError(f"cannot read {path}: {exc}") from None
    if not isinstance(before, dict):
        raise ConfigEditError(f"{path}: not a YAML mapping")
    try:
        after_text = change(text)
        after = parse_yaml(after_text)
    except (yaml.YAMLError, YamlReadError) as exc:
        raise ConfigEditError(f"{path}: cannot edit the sources list in place: {exc}") from None
    wanted = expect(list(before.get("sources") or []))
    if not isinstance(after, dict) or _without_sources(after) != _without_sources(before) \
            or list(after.get("sources") or []) != wanted:
        raise ConfigEditError(f"{path}: cannot edit the sources list in place (the file was left as it was)")
    from rsu.core.diskio import atomic_write

    try:
        atomic_write(target, after_text.encode("utf-8"))
        os.chmod(target, mode)
    except OSError as exc:
        raise ConfigEditError(f"cannot write {path}: {exc.strerror or exc}") from None


def persist_add_source(path: Path, entry: dict[str, Any]) -> None:
    """Append ``entry`` to the ``sources`` list of the config file ``path``; ConfigEditError if not possible."""
    _edit(path, lambda text: add_source_text(text, entry), lambda items: [*items, entry])


def persist_remove_source(path: Path, source_id: str) -> None:
    """Remove the ``sources`` entry ``source_id`` from the config file ``path``; ConfigEditError if not possible."""
    _edit(path, lambda text: remove_source_text(text, source_id),
          lambda items: [s for s in items if not (isinstance(s, dict) and s.get("id") == source_id)])
