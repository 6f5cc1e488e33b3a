"""Find, load and check the JSON Schemas of published payloads.

The schemas are defined once in :mod:`rsu.publish.schema_defs`, which ships in the package; the repository's
top-level ``schemas/`` folder holds their JSON export (write it with
``python -m rsu.publish.schemas --write schemas``; ``--check`` exits 1 when the folder is stale).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from rsu.publish.schema_defs import SCHEMAS, schema_file_name

__all__ = ["schema_ids", "load_schema", "validator", "validate", "repo_schema_dir", "render", "export", "stale_files"]


def schema_ids() -> list[str]:
    """Every schema id published by rsu, sorted."""
    return sorted(SCHEMAS)


def load_schema(schema_id: str) -> dict[str, Any]:
    """The JSON Schema of ``schema_id`` (a copy); KeyError names the known ids."""
    try:
        return json.loads(json.dumps(SCHEMAS[schema_id]))
    except KeyError:
        raise KeyError(f"unknown schema {schema_id!r}; known: {', '.join(schema_ids())}") from None


@lru_cache(maxsize=None)
def validator(schema_id: str) -> Any:
    """A cached ``jsonschema`` validator for ``schema_id``."""
    from jsonschema import Draft202012Validator

    schema = load_schema(schema_id)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def validate(payload: Mapping[str, Any]) -> list[str]:
    """Check a decoded payload against the schema its ``schema`` field names; return problems (empty if valid)."""
    schema_id = payload.get("schema")
    if not isinstance(schema_id, str) or schema_id not in SCHEMAS:
        return [f"schema: unknown schema id {schema_id!r}"]
    return [
        f"{'.'.join(str(p) for p in err.absolute_path) or '(top level)'}: {err.message}"
        for err in validator(schema_id).iter_errors(payload)
    ]


def repo_schema_dir() -> Path | None:
    """The repository's top-level ``schemas/`` folder when running from a checkout, else None."""
    candidate = Path(__file__).resolve().parents[2] / "schemas"
    return candidate if candidate.is_dir() else None


def render(schema_id: str) -> str:
    """The file text of one schema, as exported."""
    return json.dumps(SCHEMAS[schema_id], indent=2) + "\n"


def export(folder: Path) -> list[Path]:
    """Write every schema into ``folder`` as ``<id with / as ->.json``; return the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for schema_id in schema_ids():
        path = folder / schema_file_name(schema_id)
        path.write_text(render(schema_id), encoding="utf-8")
        written.append(path)
    return written


def stale_files(folder: Path) -> list[str]:
    """Files of ``folder`` that are missing, differ from the definitions, or name no known schema."""
    problems = []
    expected = {schema_file_name(s): s for s in schema_ids()}
    for name, schema_id in expected.items():
        path = folder / name
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif path.read_text(encoding="utf-8") != render(schema_id):
            problems.append(f"{name}: differs from rsu/publish/schema_defs.py")
    problems += [f"{p.name}: no such schema id" for p in sorted(folder.glob("*.json")) if p.name not in expected]
    return problems


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rsu.publish.schemas", description=__doc__)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", type=Path, metavar="DIR", help="export every schema into DIR")
    group.add_argument("--check", type=Path, metavar="DIR", help="exit 1 if DIR differs from the definitions")
    args = parser.parse_args(argv)
    if args.write:
        for path in export(args.write):
            print(path)
        return 0
    problems = stale_files(args.check)
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(_main())
