"""``/api/sources``: list, add, remove and restart the sources of the running box (``rsu sources`` uses it).

| request | does |
|---|---|
| ``GET /api/sources`` | ``{"sources": [...]}``: each entry's id, type, state, restarts, last error, stats |
| ``POST /api/sources`` ``{"source": {...}, "persist": false}`` | check it as ``rsu check`` would, start it: 201 |
| ``DELETE /api/sources/<id>`` (``?persist=true&timeout_s=10`` or the same as JSON body) | stop it, drop it |
| ``POST /api/sources/<id>/restart`` (``{"timeout_s": 10}``) | build it again from its entry, replace the old thread |

Authenticated exactly like every other path (the server checks the token or client certificate first).
Requests that change something must also look like a script's, not a form another site's page can send: a
``POST`` needs ``Content-Type: application/json`` (anything else: 415; a browser cannot send that cross-site
without a CORS preflight, which the box never grants) and a request whose ``Origin`` is not the box itself gets
403. Errors answer ``{"error": "...", "problems": ["sources[3].url: ...", ...]}``: 400 invalid entry, 404
unknown id, 409 id taken or a conflict with the running box, 503 the box is stopping.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from rsu.core.errors import SourceRejected

__all__ = ["Response", "handles", "json_response", "sources_response"]

log = logging.getLogger(__name__)

_ITEM = re.compile(r"^/api/sources/([A-Za-z0-9][A-Za-z0-9_.-]{0,127})(/restart)?$")
_MAX_TIMEOUT_S = 60.0

Response = tuple[int, bytes, str, dict[str, str]]
"""(status, body, content type, extra headers): what the server's routes answer."""


class _BadRequest(Exception):
    def __init__(self, status: int, problems: list[str], headers: dict[str, str] | None = None) -> None:
        self.status, self.problems, self.headers = status, problems, headers or {}
        super().__init__("; ".join(problems))


def handles(path: str) -> bool:
    """True for the paths this module answers (any method)."""
    return path == "/api/sources" or path.startswith("/api/sources/")


def json_response(status: int, doc: Any, headers: dict[str, str] | None = None) -> Response:
    """``doc`` as a compact JSON response."""
    return status, json.dumps(doc, separators=(",", ":"), default=str).encode(), "application/json", headers or {}


def _error(status: int, problems: list[str], headers: dict[str, str] | None = None) -> Response:
    return json_response(status, {"error": problems[0] if len(problems) == 1 else f"{len(problems)} problems",
                          "problems": problems}, headers)


def _body(environ: dict[str, Any]) -> dict[str, Any]:
    """The request's JSON object ({} when it has no body)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise _BadRequest(400, ["Content-Length: not a number"]) from None
    data = environ["wsgi.input"].read(length) if length > 0 else b""
    if not data.strip():
        return {}
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _BadRequest(400, [f"body: not JSON: {exc}"]) from None
    if not isinstance(doc, dict):
        raise _BadRequest(400, [f"body: expected a JSON object, got {type(doc).__name__}"])
    return doc


def _options(environ: dict[str, Any], body: dict[str, Any], allowed: set[str]) -> dict[str, Any]:
    """``persist`` and ``timeout_s`` from the JSON body, else from the query string."""
    query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    query.pop("token", None)
    unknown = sorted((set(body) | set(query)) - allowed)
    if unknown:
        raise _BadRequest(400, [f"{k}: unknown option; expected {', '.join(sorted(allowed))}" for k in unknown])
    out: dict[str, Any] = {}
    if "persist" in allowed:
        persist = body.get("persist", query.get("persist", False))
        if isinstance(persist, str) and persist.lower() in ("true", "1", "yes", "false", "0", "no", ""):
            persist = persist.lower() in ("true", "1", "yes")
        if not isinstance(persist, bool):
            raise _BadRequest(400, [f"persist: expected true or false, got {persist!r}"])
        out["persist"] = persist
    if "timeout_s" in allowed:
        raw = body.get("timeout_s", query.get("timeout_s", 10.0))
        try:
            timeout = float(raw)
        except (TypeError, ValueError):
            timeout = -1.0
        if isinstance(raw, bool) or not 0 < timeout <= _MAX_TIMEOUT_S:
            raise _BadRequest(400, [f"timeout_s: expected a number of seconds in (0, {_MAX_TIMEOUT_S:g}], got {raw!r}"])
        out["timeout_s"] = timeout
    return out


def _guard(method: str, environ: dict[str, Any]) -> None:
    """Changes only from scripts and the box's own pages: JSON content type, no foreign ``Origin``."""
    origin = environ.get("HTTP_ORIGIN")
    if origin and urlsplit(origin).netloc.lower() != environ.get("HTTP_HOST", "").lower():
        raise _BadRequest(403, [f"Origin {origin[:80]}: cross-site requests may not change sources"])
    ctype = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
    if method == "POST" and ctype != "application/json":
        raise _BadRequest(415, ["send Content-Type: application/json"])


def sources_response(live: Any, method: str, path: str, environ: dict[str, Any]) -> Response:
    """The response to ``method path`` (already authenticated); ``live`` is the box's
    :class:`~rsu.app.live_sources.LiveSources`."""
    item = _ITEM.match(path)
    if path == "/api/sources":
        allow = "GET, HEAD, POST"
    elif item is not None:
        allow = "POST" if item.group(2) else "DELETE"
    else:
        return _error(404, [f"not found: {path[:120]}"])
    if method not in allow.split(", "):
        return _error(405, [f"method {method[:16]} not allowed on {path[:120]}"], {"Allow": allow})
    try:
        if method in ("GET", "HEAD"):
            return json_response(200, {"sources": live.list()})
        _guard(method, environ)
        body = _body(environ)
        if item is None:
            if "source" not in body:
                raise _BadRequest(400, ['body: expected {"source": {...one sources entry...}, "persist": false}'])
            entry = body.pop("source")
            return json_response(201, {"source": live.add(entry, **_options(environ, body, {"persist"}))})
        source_id = item.group(1)
        if item.group(2):
            return json_response(200, {"source": live.restart(source_id, **_options(environ, body, {"timeout_s"}))})
        return json_response(200, live.remove(source_id, **_options(environ, body, {"persist", "timeout_s"})))
    except _BadRequest as exc:
        return _error(exc.status, exc.problems, exc.headers)
    except SourceRejected as exc:
        log.info("web: %s %s refused (%d): %s", method, path[:120], exc.status, exc)
        return _error(exc.status, exc.problems)
