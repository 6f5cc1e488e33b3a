"""Wire metrics, the live state and the web server onto a built box (called by ``build_box``)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from rsu_sdk import RsuError

from rsu.metrics.collector import BoxCollector, box_registry
from rsu.metrics.counters import ProductCounters
from rsu.metrics.health import liveness, readiness

__all__ = ["Observability", "WebStartError", "attach"]

log = logging.getLogger(__name__)


class WebStartError(RsuError):
    """The web server cannot listen where the config says."""


@dataclass
class Observability:
    """The box's metrics registry, dashboard state and HTTP server (None when ``web.enabled`` is false)."""

    registry: Any
    counters: ProductCounters
    live: Any = None
    frames: Any = None
    server: Any = None

    @property
    def url(self) -> str | None:
        return None if self.server is None else self.server.url

    def start(self) -> None:
        if self.server is not None:
            self.server.start()

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


def attach(built: Any) -> Observability:
    """Add the metrics counters (and, with ``web.enabled``, the live state) as taps on the box's outputs,
    build the Prometheus registry and bind the web server. The server serves once :meth:`Observability.start`
    runs (``BuiltBox.run``); it closes with the box.

    :raises WebStartError: the web server cannot bind ``web.host:web.port``.
    """
    cfg, box = built.config, built.box
    counters = ProductCounters()
    box.sink.taps.append(counters.observe)
    started = time.time()
    obs = Observability(registry=None, counters=counters)
    collector = BoxCollector(box, site=cfg.site.name, runner=cfg.runner, counters=counters,
                             process=cfg.metrics.process,
                             extra_stats=lambda: {"web_frames_encoded": obs.frames.counts["encoded"]}
                             if obs.frames is not None else {})
    obs.registry = box_registry(collector)
    web = cfg.web
    if not web.enabled:
        return obs
    from rsu.web.auth import load_token
    from rsu.web.server import InsecureHostError, WebApp, WebLimits, WebServer

    from rsu.web.tls import TlsSettingsError, server_context

    try:
        token = load_token(web.token_file) if web.token_file is not None else None
        tls = None if web.tls is None else server_context(web.tls.cert, web.tls.key, web.tls.client_ca)
    except (ValueError, TlsSettingsError) as exc:
        raise WebStartError(str(exc)) from None

    app = WebApp(liveness=lambda: liveness(box), readiness=lambda: readiness(box),
                 sources=getattr(built, "live_sources", None))  # /api/sources
    if cfg.metrics.enabled:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        app.metrics = lambda: (generate_latest(obs.registry), CONTENT_TYPE_LATEST)
    if web.dashboard:
        from rsu.web.frames import FrameRenderer
        from rsu.web.live import LiveState
        from rsu.web.state import StateView
        from rsu.web.views import SiteGeometry

        if not cfg.privacy.blur:
            log.warning("web: privacy.blur is false: the dashboard shows camera frames unblurred")
        obs.live = LiveState(frame_history=web.frame_history, recent_events=web.recent_events)
        geometry = SiteGeometry.from_config(cfg)
        obs.frames = FrameRenderer(obs.live, geometry, privacy=cfg.privacy, fps=web.frame_fps,
                                   jpeg_quality=web.jpeg_quality, max_width=web.max_width)
        view = StateView(box=box, config=cfg, live=obs.live, frames=obs.frames, geometry=geometry,
                         counters=counters, started=started)
        app.state = view.document
        app.frame = obs.frames.frame
        box.sink.taps.append(obs.live.observe)
    limits = WebLimits(threads=web.threads, max_connections=web.max_connections, idle_timeout_s=web.idle_timeout_s,
                       max_header_bytes=web.max_header_bytes)
    try:
        obs.server = WebServer(app, web.host, web.port, token=token, limits=limits, tls=tls)
    except InsecureHostError as exc:
        raise WebStartError(str(exc)) from None
    except OSError as exc:
        raise WebStartError(f"web: cannot listen on {web.host}:{web.port}: {exc.strerror or exc}") from None
    what = "dashboard" if web.dashboard else "web server"
    auth = [a for a, on in (("client certificate", obs.server.client_certs), ("token", token)) if on]
    built.notes.append(f"{what} on {obs.server.url} ({' and '.join(auth) + ' required' if auth else 'loopback, no token'}; "
                       f"metrics: {obs.server.url}metrics, health: {obs.server.url}healthz, {obs.server.url}readyz; "
                       f"sources: {obs.server.url}api/sources)")
    return obs
