"""Run the enabled plugins: start them, hand each product to each plugin's worker, stop them.

The sensor path only ever calls :meth:`PluginHost.dispatch`, which queues and returns: a plugin that
raises is counted and, after ``failure_limit`` failures in a row, disabled (a ``down``
:class:`~rsu_sdk.types.HealthEvent` is published, with its schema and event time, and goes to the other
plugins). Each plugin's queue has two lanes (:mod:`rsu.plugins.queues`): the box's safety products
(:data:`rsu.core.envelope.SAFETY_TYPES`) are never dropped and reach the plugin first, in order; for the rest, a
slow plugin gets the newest per source and device (older ones are shed, counted). Only a plugin whose safety
lane holds ``safety_queue_size`` products makes ``dispatch`` wait (back-pressure, counted in its stats).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from rsu_sdk import HealthEvent, PluginContext, Product, Publisher, SiteInfo
from rsu_sdk.errors import InvalidDataError, PublishError
from rsu_sdk.payloads import publish_product
from rsu_sdk.routing import PRODUCT_HOOKS, hook_for

from rsu.core.envelope import SAFETY_TYPES
from rsu.plugins.manager import LoadedPlugins, PluginLoadError, create_plugin_manager
from rsu.plugins.queues import source_key
from rsu.plugins.registry import call_impl, impls_of
from rsu.plugins.settings import plugin_problems
from rsu.plugins.worker import InFlight, PluginWorker

if TYPE_CHECKING:
    from rsu.config import RsuConfig

__all__ = ["PluginHost", "freeze"]

log = logging.getLogger("rsu.plugins")


def freeze(value: Any) -> Any:
    """A read-only deep copy of JSON-like settings: mappings become MappingProxyType, lists tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


class PluginHost:
    """Owns the workers of the loaded plugins.

    :param loaded: what :func:`~rsu.plugins.manager.create_plugin_manager` returned.
    :param settings: plugin name -> its (already validated) ``plugins.<name>`` section.
    :param emit_sink: where products that plugins emit go, as ``emit_sink(product, origin)`` with origin
        ``plugin:<name>`` (the box's lanes: it publishes them and dispatches them to the other plugins with
        ``exclude``); None dispatches them straight to the other plugins. Either way a plugin never receives a
        product it emitted itself.
    :param state_root: each plugin gets ``state_root/<name>`` as its ``state_dir``.
    :param queue_size, safety_queue_size, newest_wins, stall_after_s: each worker's queue (see
        :class:`~rsu.plugins.worker.PluginWorker`); ``clock`` is the workers' monotonic clock (tests inject one).
    """

    def __init__(
        self,
        loaded: LoadedPlugins,
        *,
        site: SiteInfo,
        publisher: Publisher,
        settings: Mapping[str, Mapping[str, Any]] | None = None,
        failure_limit: int = 5,
        queue_size: int = 256,
        stop_timeout_s: float = 5.0,
        state_root: Path | None = None,
        emit_sink: Callable[[Product, str], object] | None = None,
        stall_after_s: float = 10.0,
        safety_queue_size: int = 100_000,
        newest_wins: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.loaded = loaded
        self.site = site
        self.publisher = publisher
        self.settings = dict(settings or {})
        self.stop_timeout_s = stop_timeout_s
        self.state_root = state_root
        self._emit_sink = emit_sink
        self._inflight = InFlight()
        self.workers: dict[str, PluginWorker] = {
            name: PluginWorker(name, queue_size=queue_size, failure_limit=failure_limit,
                               logger=logging.getLogger(f"rsu.plugin.{name}"), on_disabled=self._on_disabled,
                               inflight=self._inflight, stall_after_s=stall_after_s,
                               safety_queue_size=safety_queue_size, newest_wins=newest_wins, clock=clock)
            for name in loaded.loaded()
        }
        self._routes: dict[str, list[tuple[PluginWorker, str, Callable[..., Any], bool]]] = {}
        self._started: set[str] = set()
        self._running = False
        self._early_health: list[tuple[HealthEvent, str]] = []
        self.unrouted = 0

    @classmethod
    def from_config(
        cls,
        config: RsuConfig,
        *,
        publisher: Publisher,
        extra_plugins: Iterable[tuple[str, object]] = (),
        state_root: Path | None = None,
        emit_sink: Callable[[Product, str], object] | None = None,
    ) -> PluginHost:
        """Load exactly the plugins ``config.plugins.enabled`` names and validate their settings.

        :raises PluginLoadError: an enabled plugin is not installed or failed to load, or a settings section
            is invalid; ``problems`` names each (``plugins.<name>.<path>: reason``).
        """
        pc = config.plugins
        loaded = create_plugin_manager(pc.enabled, extra_plugins=extra_plugins)
        problems = plugin_problems(loaded, pc.enabled, pc.sections())
        if problems:
            raise PluginLoadError(problems)
        site = SiteInfo(name=config.site.name, lat=config.site.lat, lon=config.site.lon, alt=config.site.alt)
        return cls(loaded, site=site, publisher=publisher,
                   settings={n: pc.settings_for(n) for n in pc.enabled}, failure_limit=pc.failure_limit,
                   queue_size=pc.queue_size, stop_timeout_s=pc.stop_timeout_s, state_root=state_root,
                   emit_sink=emit_sink, stall_after_s=pc.stall_after_s,
                   safety_queue_size=pc.safety_queue_size, newest_wins=pc.newest_wins)

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        """Call each plugin's ``rsu_on_start`` (a failure disables that plugin only) and start its worker."""
        pm = self.loaded.pm
        starts = {impl.plugin_name: impl for impl in impls_of(pm, "rsu_on_start")}
        for name, worker in self.workers.items():
            impl = starts.get(name)
            if impl is not None:
                try:
                    call_impl(impl, context=self._context(name))
                except Exception as exc:  # noqa: BLE001 - one plugin's start must not stop the box
                    worker.log.exception("plugin %s failed to start", name)
                    worker.disable(f"rsu_on_start failed: {type(exc).__name__}: {exc}")
                    continue
            self._started.add(name)
            worker.start()
        for hook_name, arg in PRODUCT_HOOKS.values():
            self._routes[hook_name] = [
                (self.workers[i.plugin_name], hook_name, i.function, arg in i.argnames)
                for i in impls_of(pm, hook_name) if i.plugin_name in self._started
            ]
        self._running = True
        for event, name in self._early_health:  # plugins whose start failed, now that the others run
            self.dispatch(event, exclude=name)
        self._early_health.clear()

    def _context(self, name: str) -> PluginContext:
        state_dir = None
        if self.state_root is not None:
            state_dir = self.state_root / name
            state_dir.mkdir(parents=True, exist_ok=True)
        return PluginContext(
            name=name, site=self.site, config=freeze(self.settings.get(name) or {}), publisher=self.publisher,
            emit=lambda product, _origin=name: self.emit(product, origin=_origin),
            logger=logging.getLogger(f"rsu.plugin.{name}"), state_dir=state_dir,
        )

    def stop(self) -> None:
        """Drain every queue within ``stop_timeout_s`` (one deadline for all), then call ``rsu_on_stop``."""
        if not self._running:
            return
        self._running = False
        deadline = time.monotonic() + self.stop_timeout_s
        for worker in self.workers.values():
            worker.close(deadline)
        for impl in impls_of(self.loaded.pm, "rsu_on_stop"):
            if impl.plugin_name not in self._started:
                continue
            try:
                call_impl(impl)
            except Exception:  # noqa: BLE001
                log.exception("plugin %s failed in rsu_on_stop", impl.plugin_name)
                self.workers[impl.plugin_name].errors += 1

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until every queue is empty and no plugin is inside a call (tests, orderly shutdown)."""
        return self._inflight.wait_zero(time.monotonic() + timeout)

    # -- products ---------------------------------------------------------------------------------

    def dispatch(self, product: Product, *, exclude: str | None = None) -> int:
        """Queue ``product`` for every plugin that implements its hook: a safety product in each one's safety lane
        (waiting only where that lane is full), any other newest-wins per source and device (never waits).

        :returns: how many plugins it was queued for.
        """
        if not self._running:
            return 0
        try:
            hook_name, _ = hook_for(product)
        except InvalidDataError:
            self.unrouted += 1
            return 0
        queued = 0
        safety = isinstance(product, SAFETY_TYPES)
        key = None if safety else source_key(product)
        for worker, hook, function, wants_arg in self._routes.get(hook_name, ()):
            if worker.name != exclude:
                queued += worker.offer(hook, function, (product,) if wants_arg else (), safety=safety, key=key)
        return queued

    def emit(self, product: Product, *, origin: str) -> None:
        """A plugin hands a product back to the host (:attr:`PluginContext.emit`): the box's lanes publish and
        route it; without them, this host publishes it with the payload code and dispatches it here."""
        if self._emit_sink is None:
            try:
                publish_product(self.publisher, product)
            except (InvalidDataError, PublishError) as exc:
                log.warning("plugin %s emitted a product that cannot be published: %s", origin, exc)
            self.dispatch(product, exclude=origin)
            return
        self._emit_sink(product, f"plugin:{origin}")

    def _on_disabled(self, name: str, reason: str) -> None:
        """Report a disabled plugin as a ``down`` :class:`HealthEvent` on ``health/plugin.<name>``: through the
        box's lanes (published with schema and event time, then to the other plugins) or, without them, published
        here with the payload code and dispatched to the others (once they run)."""
        event = HealthEvent(source=f"plugin.{name}", t_event_ns=time.time_ns(), component=f"plugin:{name}",
                            status="down", message=reason)
        if self._emit_sink is not None:
            try:
                self._emit_sink(event, f"plugin:{name}")
            except Exception:  # noqa: BLE001 - the health report must not take the host down
                log.exception("reporting the health of plugin %s failed", name)
            return
        try:
            publish_product(self.publisher, event)
        except Exception:  # noqa: BLE001 - the health report must not take the host down
            log.exception("publishing the health of plugin %s failed", name)
        if self._running:
            self.dispatch(event, exclude=name)
        else:
            self._early_health.append((event, name))

    # -- reporting --------------------------------------------------------------------------------

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per plugin: calls, errors, consecutive_errors, drops (shed + lost_at_stop), shed, superseded,
        queue_depth, safety_queued, safety_total, safety_max_depth, safety_waits, waiting, disabled, status
        (``running``, ``stalled``, ``stopped``, ``disabled: ...``), stalls, last_error, version."""
        out = {}
        for name, worker in self.workers.items():
            out[name] = {"version": self.loaded.plugins[name].version, **worker.stats()}
        return out
