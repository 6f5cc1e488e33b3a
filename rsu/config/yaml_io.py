"""Read a config file as YAML: one clear line for a file that is binary, not UTF-8, malformed, or repeats a key.

PyYAML's own loaders let a repeated key silently win; :func:`parse_yaml` reports it with the key's dotted path
and both line numbers instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

__all__ = ["MAX_CONFIG_BYTES", "YamlReadError", "decode_text", "parse_yaml", "read_yaml"]

MAX_CONFIG_BYTES = 16 * 1024 * 1024
"""A config is a few kilobytes; anything above this is not one."""

_MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlReadError(Exception):
    """The file could not be read as a YAML mapping; ``problems`` holds one line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def decode_text(data: bytes) -> str:
    """``data`` as UTF-8 text (a BOM is dropped); raise :class:`YamlReadError` for binary or other encodings."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise YamlReadError(["the file is UTF-16 text: save it as UTF-8"])
    nul = data.find(b"\x00")
    if nul >= 0:
        raise YamlReadError([f"not a text file (a NUL byte at offset {nul}): a config is YAML text"])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise YamlReadError([f"not UTF-8 text: byte 0x{data[exc.start]:02x} at offset {exc.start} (line {line}) "
                             "cannot be decoded; save the file as UTF-8"]) from None


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader; a value its constructors reject (``2024-13-45``, ``!!int x``) is a YAML error with
    the value's line instead of a bare ValueError."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (yaml.YAMLError, RecursionError):
            raise
        except Exception as exc:  # noqa: BLE001 - ValueError, TypeError, AttributeError of a constructor
            raise yaml.constructor.ConstructorError(None, None, f"{type(exc).__name__}: {exc}",
                                                    node.start_mark) from None


def _key_path(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


def _duplicates(node: yaml.Node, path: str, seen: set[int]) -> Iterator[str]:
    """One problem line per key repeated in a mapping, anywhere below ``node``."""
    if id(node) in seen:  # an alias: its duplicates were reported where it was defined
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[tuple[str, str], int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                continue
            key = (key_node.tag, key_node.value)
            line = key_node.start_mark.line + 1
            if key in first:
                yield (f"{_key_path(path, key_node.value)}: duplicate key at line {line} (first at line "
                       f"{first[key]}); YAML would silently keep the later value: keep one")
            else:
                first[key] = line
            yield from _duplicates(value_node, _key_path(path, key_node.value), seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _duplicates(item, f"{path}[{i}]", seen)


def _yaml_problem(exc: yaml.YAMLError, text: str) -> str:
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        return f"not valid YAML text: control character #x{exc.character:04x} at line {line} is not allowed"
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "?"
    problem = getattr(exc, "problem", None) or str(exc).strip().splitlines()[0]
    if isinstance(exc, yaml.constructor.ConstructorError):
        return f"YAML value at {where} cannot be read: {problem}"
    return f"YAML syntax error at {where}: {problem}"


def parse_yaml(text: str) -> Any:
    """The single document in ``text`` (None when empty); raise :class:`YamlReadError` naming each problem."""
    loader: _Loader | None = None
    try:
        loader = _Loader(text)  # its reader rejects control characters here already
        node = loader.get_single_node()
        if node is None:
            return None
        problems = list(_duplicates(node, "", set()))
        if problems:
            raise YamlReadError(problems)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise YamlReadError([_yaml_problem(exc, text)]) from None
    except RecursionError:
        raise YamlReadError(["YAML nested too deeply to be a config"]) from None
    finally:
        if loader is not None:
            loader.dispose()


def read_yaml(path: Path) -> Any:
    """Read and parse the YAML file ``path``; raise :class:`YamlReadError` naming what is wrong.

    A problem with the file as a whole (unreadable, too large, binary, not UTF-8) names the file
    (``site.yaml: not a text file ...``); a problem inside the YAML names its line or key path.
    """
    try:
        if path.is_dir():
            raise YamlReadError([f"{path}: is a folder, not a config file"])
        with path.open("rb") as fh:
            data = fh.read(MAX_CONFIG_BYTES + 1)
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise YamlReadError([f"{path}: cannot read file: {getattr(exc, 'strerror', None) or exc}"]) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise YamlReadError([f"{path}: file is larger than {MAX_CONFIG_BYTES // (1024 * 1024)} MiB: not a config"])
    try:
        text = decode_text(data)
    except YamlReadError as exc:
        raise YamlReadError([f"{path}: {problem}" for problem in exc.problems]) from None
    return parse_yaml(text)
