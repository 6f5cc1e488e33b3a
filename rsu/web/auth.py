"""Token authentication for the web server (``web.token_file``; ``rsu keys token FILE`` makes one).

A request is let in when it carries the token as ``Authorization: Bearer TOKEN`` (scripts, Prometheus'
``bearer_token_file``) or in the ``rsu_token`` cookie (the browser). Opening ``/?token=TOKEN`` once sets that
cookie (HttpOnly, SameSite=Strict) and redirects to the same page without the token in its address. Anything
else gets 401 and nothing of the box. Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
import json
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

__all__ = ["COOKIE", "MIN_TOKEN_CHARS", "TokenAuth", "load_token"]

COOKIE = "rsu_token"
MIN_TOKEN_CHARS = 24


def load_token(path: str | Path) -> str:
    """The token in ``path`` (one line); ValueError naming the file when it is missing, short or not plain."""
    p = Path(path)
    try:
        token = p.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"web.token_file: cannot read {p}: {exc}") from None
    if len(token) < MIN_TOKEN_CHARS or not token.isprintable() or any(c in token for c in " ;,\"\\"):
        raise ValueError(f"web.token_file: {p} must hold one token of at least {MIN_TOKEN_CHARS} printable "
                         "characters without spaces, quotes, ';' or ','")
    return token


class TokenAuth:
    """Checks a WSGI request for ``token``."""

    def __init__(self, token: str, *, secure: bool = False) -> None:
        self._token = token.encode("ascii")
        self._flags = "; Secure" if secure else ""  # over TLS the browser never sends the cookie in clear

    def _ok(self, candidate: str | None) -> bool:
        if not candidate:
            return False
        try:
            return hmac.compare_digest(candidate.encode("ascii"), self._token)
        except UnicodeEncodeError:
            return False

    def check(self, environ: dict[str, Any]) -> tuple[int, bytes, str, dict[str, str]] | None:
        """None when the request may proceed, else the response to send instead (401, or 303 to drop
        ``?token=`` from the address after setting the cookie)."""
        header = environ.get("HTTP_AUTHORIZATION", "")
        if header[:7].lower() == "bearer " and self._ok(header[7:].strip()):
            return None
        try:
            cookie = SimpleCookie(environ.get("HTTP_COOKIE", ""))
        except CookieError:
            cookie = SimpleCookie()
        if COOKIE in cookie and self._ok(cookie[COOKIE].value):
            return None
        query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        given = [v for k, v in query if k == "token"]
        if given and self._ok(given[-1]):
            rest = urlencode([(k, v) for k, v in query if k != "token"])
            location = quote(environ.get("PATH_INFO", "/")) + (f"?{rest}" if rest else "")
            return 303, b"", "text/plain", {
                "Location": location,
                "Set-Cookie": f"{COOKIE}={self._token.decode()}; Path=/; HttpOnly; SameSite=Strict{self._flags}"}
        body = json.dumps({"error": "unauthorised: send Authorization: Bearer TOKEN (web.token_file) or open "
                                    "/?token=TOKEN once in the browser"}).encode()
        return 401, body, "application/json", {"WWW-Authenticate": 'Bearer realm="rsu"'}
