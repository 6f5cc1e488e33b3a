"""Reading a scenario's ``truth.json`` back, with a clear error when it is not the expected scenario."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TRUTH_FILE = "truth.json"


def read_truth_doc(path: Path, scenario: str, list_key: str) -> dict[str, Any]:
    """Load ``truth.json`` (a file or the folder holding it) of ``scenario``, whose ``list_key`` is a list."""
    path = path / TRUTH_FILE if path.is_dir() else path
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read {scenario} ground truth: {exc}") from None
    if doc.get("scenario") != scenario or not isinstance(doc.get(list_key), list):
        raise ValueError(f"{path}: not a {scenario} ground truth (expected scenario {scenario!r} and {list_key!r})")
    return doc
