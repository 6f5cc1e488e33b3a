"""``rsu sources list|add|remove|restart``: change the sources of a running box through its web API.

The box is found from its config (``--config``: ``web.host``/``web.port``, HTTPS with ``web.tls``, the token in
``web.token_file``) or from ``--url`` and ``--token-file`` / ``$RSU_WEB_TOKEN``. Exit 0 when done, 2 when the
box refused the request for what it asked (an invalid entry, an unknown or taken id) or the input could not be
read, 1 when the box could not be asked (not running, web server off, wrong token).
"""

from __future__ import annotations

import json
import ssl
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import click

_ANY_HOST = {"0.0.0.0": "127.0.0.1", "*": "127.0.0.1", "": "127.0.0.1", "::": "::1", "[::]": "::1"}
DEFAULT_URL = "http://127.0.0.1:8080/"


@dataclass
class Box:
    """Where the box's web API is and how to authenticate to it."""

    url: str
    token: str | None = None
    context: ssl.SSLContext | None = None

    def request(self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None,
                timeout: float = 70.0) -> tuple[int, Any]:
        """``(status, JSON document)``; OSError when the box cannot be reached."""
        url = self.url.rstrip("/") + path + (f"?{urlencode(query)}" if query else "")
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        if data is not None or method == "POST":
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self.context) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        try:
            return status, json.loads(raw) if raw else {}
        except ValueError:
            return status, {"error": raw[:200].decode("utf-8", "replace")}


def _from_config(config: Path) -> tuple[str, Path | None, Path | None]:
    """``(url, token file, CA file)`` of the web server the config describes."""
    from rsu.cli.common import load_config_or_exit

    cfg = load_config_or_exit(config, "rsu sources")
    web = cfg.web
    if not web.enabled:
        raise click.UsageError(f"{config}: web.enabled is false: the box has no web API; set it, or give --url")
    if web.port == 0:
        raise click.UsageError(f"{config}: web.port is 0 (an ephemeral port): give --url with the port in the "
                               "box's start-up banner")
    host = _ANY_HOST.get(web.host, web.host)
    host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    scheme = "https" if web.tls is not None else "http"
    ca = web.tls.client_ca if web.tls is not None else None
    return f"{scheme}://{host}:{web.port}/", web.token_file, ca


def _box(ctx_obj: dict[str, Any]) -> Box:
    url, token_file, cacert = ctx_obj["url"], ctx_obj["token_file"], ctx_obj["cacert"]
    if ctx_obj["config"] is not None:
        c_url, c_token, c_ca = _from_config(ctx_obj["config"])
        url, token_file, cacert = url or c_url, token_file or c_token, cacert or c_ca
    token = ctx_obj["token"]
    if token is None and token_file is not None:
        from rsu.web.auth import load_token

        try:
            token = load_token(token_file)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
    context = None
    url = url or DEFAULT_URL
    if url.startswith("https:"):
        context = ssl.create_default_context(cafile=str(cacert) if cacert else None)
        if ctx_obj["cert"] is not None:
            context.load_cert_chain(str(ctx_obj["cert"]), str(ctx_obj["key"]) if ctx_obj["key"] else None)
    elif not url.startswith("http:"):
        raise click.UsageError(f"--url: expected http://HOST:PORT/ or https://HOST:PORT/, got {url!r}")
    return Box(url, token, context)


def _call(what: str, ctx_obj: dict[str, Any], method: str, path: str, body: Any = None,
          query: dict[str, str] | None = None) -> Any:
    """The answer to the request; on an error, its problems on stderr and exit 2 (refused) or 1."""
    box = _box(ctx_obj)
    try:
        status, doc = box.request(method, path, body, query)
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "reason", exc)
        click.echo(f"rsu sources {what}: cannot reach the box at {box.url}: {reason} (is it running, with "
                   "web.enabled: true?)", err=True)
        sys.exit(1)
    if status < 300:
        return doc
    problems = doc.get("problems") or [doc.get("error", "?")] if isinstance(doc, dict) else [str(doc)]
    click.echo(f"rsu sources {what}: refused ({status}):", err=True)
    for problem in problems:
        click.echo(f"  {problem}", err=True)
    sys.exit(2 if status in (400, 404, 409) else 1)


def _connection(f: Callable[..., Any]) -> Callable[..., Any]:
    """The options that say where the box is, on every subcommand."""
    options = [
        click.option("--config", type=click.Path(exists=True, dir_okay=False, path_type=Path), envvar="RSU_CONFIG",
                     help="The running box's config: its web address, token and TLS CA."),
        click.option("--url", envvar="RSU_URL",
                     help=f"The box's web server (default: from --config, else {DEFAULT_URL})."),
        click.option("--token-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="File holding the web token (default: the config's web.token_file)."),
        click.option("--token", envvar="RSU_WEB_TOKEN", default=None,
                     help="The web token itself (prefer $RSU_WEB_TOKEN or --token-file: arguments are visible to ps)."),
        click.option("--cacert", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
                     help="HTTPS: the CA that signed the box's certificate (default: the config's web.tls.client_ca)."),
        click.option("--cert", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
                     help="HTTPS with client certificates: this client's certificate (PEM)."),
        click.option("--key", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
                     help="... and its private key."),
        click.option("--json", "as_json", is_flag=True, help="Print the box's JSON answer."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _obj(kw: dict[str, Any]) -> dict[str, Any]:
    return {k: kw.pop(k) for k in ("config", "url", "token_file", "token", "cacert", "cert", "key")}


def _print(doc: Any, as_json: bool, text: str) -> None:
    click.echo(json.dumps(doc, indent=2, default=str) if as_json else text)


@click.group("sources")
def command() -> None:
    """List, add, remove and restart the sources of a running box, without restarting it.

    Talks to the box's web API (/api/sources; web.enabled must be true), authenticated like the dashboard.
    """


@command.command("list")
@_connection
def list_command(as_json: bool, **kw: Any) -> None:
    """Each source: id, type, state (running, restarting, finished, stopped, disabled), restarts, last error."""
    doc = _call("list", _obj(kw), "GET", "/api/sources")
    rows = doc.get("sources", [])
    if as_json:
        _print(rows, True, "")
        return
    if not rows:
        click.echo("no sources")
        return
    width = max(len("ID"), *(len(r["id"]) for r in rows))
    click.echo(f"{'ID':<{width}}  {'TYPE':<13} {'STATE':<11} {'RESTARTS':>8}  LAST ERROR")
    for r in rows:
        click.echo(f"{r['id']:<{width}}  {r['type']:<13} {r.get('state', '?'):<11} {r.get('restarts', 0):>8}  "
                   f"{r.get('last_error') or ''}")


def _read_entry(path: str) -> Any:
    """One sources entry from a YAML or JSON file (``-``: stdin): a mapping, or a list of one mapping."""
    from rsu.config.yaml_io import YamlReadError, decode_text, parse_yaml

    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
        doc = parse_yaml(decode_text(data))
    except OSError as exc:
        raise click.UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except YamlReadError as exc:
        raise click.UsageError(f"{path}: {'; '.join(exc.problems)}") from None
    if isinstance(doc, list) and len(doc) == 1:
        doc = doc[0]
    if not isinstance(doc, dict):
        raise click.UsageError(f"{path}: expected one sources entry (id: ..., type: ...), got "
                               f"{type(doc).__name__ if not isinstance(doc, list) else f'a list of {len(doc)}'}")
    return doc


@command.command("add")
@click.argument("entry_file", metavar="FILE")
@click.option("--persist", is_flag=True, help="Also append the entry to the box's config file.")
@_connection
def add_command(entry_file: str, persist: bool, as_json: bool, **kw: Any) -> None:
    """Add the source in FILE (YAML or JSON: one entry as under `sources:` of a config; - reads stdin).

    It is checked as `rsu check` checks a source (exit 2 naming each problem by its key path), then started.
    """
    entry = _read_entry(entry_file)
    doc = _call("add", _obj(kw), "POST", "/api/sources", {"source": entry, "persist": persist})
    src = doc.get("source", {})
    _print(doc, as_json, f"added {src.get('id')} ({src.get('type')}) as sources[{src.get('index')}]: "
                         f"{src.get('state')}{'; written to the config' if src.get('persisted') else ''}")


@command.command("remove")
@click.argument("source_id", metavar="ID")
@click.option("--persist", is_flag=True, help="Also remove the entry from the box's config file.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True, max=60), default=10.0, show_default=True,
              help="Seconds to wait for the source's thread to end.")
@_connection
def remove_command(source_id: str, persist: bool, timeout: float, as_json: bool, **kw: Any) -> None:
    """Stop source ID and remove it from the running box."""
    doc = _call("remove", _obj(kw), "DELETE", f"/api/sources/{quote(source_id, safe='')}",
                {"persist": persist, "timeout_s": timeout})
    note = "" if doc.get("stopped", True) else f" (its thread did not end within {timeout:g} s; it ends on its own)"
    _print(doc, as_json, f"removed {source_id}{note}{'; removed from the config' if doc.get('persisted') else ''}")


@command.command("restart")
@click.argument("source_id", metavar="ID")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True, max=60), default=10.0, show_default=True,
              help="Seconds to wait for the old thread to end.")
@_connection
def restart_command(source_id: str, timeout: float, as_json: bool, **kw: Any) -> None:
    """Stop source ID and start it again from its config entry (the other sources keep running)."""
    doc = _call("restart", _obj(kw), "POST", f"/api/sources/{quote(source_id, safe='')}/restart",
                {"timeout_s": timeout})
    _print(doc, as_json, f"restarted {source_id}: {doc.get('source', {}).get('state')}")
