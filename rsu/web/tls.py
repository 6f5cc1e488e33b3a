"""TLS for the web server (``web.tls``): an asyncio front that terminates TLS and relays each connection to
the waitress server, which then listens only on a Unix socket in a private folder (mode 0700).

Why a front and not TLS inside waitress: waitress has no TLS, and a TLS handshake inside its event loop
would block every connection while one client handshakes slowly. asyncio's TLS server handshakes
without blocking, closes a connection that has not finished its handshake within ``handshake_timeout_s``, and
verifies client certificates (``client_ca``: a certificate is required, signed by that CA) before a byte
reaches the router. Everything else (request size limits, idle timeouts, the fixed thread pool, the token)
stays with waitress and :mod:`rsu.web.server`.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
from pathlib import Path

__all__ = ["TlsFront", "TlsSettingsError", "server_context"]

log = logging.getLogger(__name__)

_CHUNK = 64 * 1024


class TlsSettingsError(ValueError):
    """A certificate, key or CA file of ``web.tls`` cannot be used (the message names the key)."""


def server_context(cert: Path, key: Path, client_ca: Path | None = None) -> ssl.SSLContext:
    """A TLS 1.2+ server context with ``cert``/``key``; with ``client_ca`` every client must present a
    certificate that CA signed. :raises TlsSettingsError: naming ``web.tls.cert``, ``.key`` or ``.client_ca``."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    for name, path in (("cert", cert), ("key", key), ("client_ca", client_ca)):
        if path is not None and not Path(path).is_file():
            raise TlsSettingsError(f"web.tls.{name}: {path} is not a file")
    try:
        ctx.load_cert_chain(str(cert), str(key))
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise TlsSettingsError(f"web.tls.cert / web.tls.key: cannot load {cert} with {key}: {exc}") from None
    if client_ca is not None:
        try:
            ctx.load_verify_locations(cafile=str(client_ca))
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise TlsSettingsError(f"web.tls.client_ca: cannot load {client_ca}: {exc}") from None
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


class TlsFront:
    """Serves TLS on the bound, listening ``sock`` and relays each connection to the Unix socket ``backend``.

    :param max_connections: connections relayed at once; more are closed at once (counted as ``refused``).
    :param handshake_timeout_s: a client that has not completed its handshake by then is dropped.
    """

    def __init__(self, sock: socket.socket, context: ssl.SSLContext, backend: str, *, max_connections: int = 100,
                 handshake_timeout_s: float = 15.0) -> None:
        self._sock, self._ctx, self._backend = sock, context, backend
        self._max = max_connections
        self._handshake_s = handshake_timeout_s
        self.counts = {"connections": 0, "refused": 0, "handshake_failed": 0, "backend_errors": 0}
        """``connections`` relayed after a good handshake; ``refused`` over ``max_connections``."""
        self._active = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Copy until ``reader`` ends, then close ``writer`` (a client that closes its side ends the
        connection, as waitress does for a direct client)."""
        try:
            while data := await reader.read(_CHUNK):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError, ssl.SSLError):
            pass
        writer.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._active >= self._max:
            self.counts["refused"] += 1
            writer.close()
            return
        self._active += 1
        try:
            try:
                raw = writer.get_extra_info("socket")
                if raw is not None:  # responses go out in several TLS records: no Nagle wait between them
                    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                await writer.start_tls(self._ctx, ssl_handshake_timeout=self._handshake_s)
            except (ssl.SSLError, ConnectionError, TimeoutError, OSError) as exc:
                self.counts["handshake_failed"] += 1  # plain HTTP, no or an unknown certificate, too slow
                log.debug("web tls: handshake failed: %s", exc)
                writer.transport.abort()
                return
            self.counts["connections"] += 1
            try:
                b_reader, b_writer = await asyncio.open_unix_connection(self._backend)
            except OSError as exc:
                self.counts["backend_errors"] += 1
                log.warning("web tls: cannot reach the server behind the front: %s", exc)
                writer.close()
                return
            try:
                await asyncio.gather(self._pipe(reader, b_writer), self._pipe(b_reader, writer))
            finally:
                b_writer.close()
                writer.close()
        except asyncio.CancelledError:  # the front is closing: this connection ends here, quietly
            writer.transport.abort()
        finally:
            self._active -= 1

    def start(self) -> None:
        """Serve on a thread named ``web-tls``; returns once the server accepts connections."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="web-tls", daemon=True)
        self._thread.start()
        self._ready.wait(30)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def serve() -> None:
            self._server = await asyncio.start_server(self._relay, sock=self._sock)
            self._ready.set()

        self._loop.run_until_complete(serve())
        self._loop.run_forever()

    def close(self) -> None:
        """Stop accepting, close every relayed connection and the listening socket; idempotent."""
        if self._thread is not None and self._loop.is_running():
            async def stop() -> None:
                if self._server is not None:
                    self._server.close()
                tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._thread = None
        if not self._loop.is_running() and not self._loop.is_closed():
            self._loop.close()
        self._sock.close()
