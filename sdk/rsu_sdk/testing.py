"""Test kit for plugin authors: an opt-in pytest plugin, data factories and a harness.

Enable it in a test module or the root ``conftest.py``::

    pytest_plugins = ["rsu_sdk.testing"]

    def test_alarm(register_plugin):
        run = run_plugin(MyPlugin(), [make_reading(values={"temp": 1900.0})], config={"limit": 1800})
        assert run.messages("fault")

Fixtures: ``plugin_manager`` (a fresh manager with the rsu hookspecs), ``register_plugin`` (registers a plugin
into it and unregisters it at teardown), ``recording_publisher``. Factories ``make_*`` build valid values
with sensible defaults; any field can be overridden by keyword. :func:`run_plugin` starts a plugin the way
the host does, feeds it inputs, stops it and returns what it published and emitted. Like the host, it
publishes every product the plugin emits with the host's payload code (:mod:`rsu_sdk.payloads`), and the
:class:`RecordingPublisher` refuses the topics the host refuses (:mod:`rsu_sdk.topics`).
:func:`plugin_context` builds the same context for a test that drives a plugin's hooks itself.

PYTEST_DONT_REWRITE: this module asserts nothing itself, and test modules import it before pytest
registers it as a plugin, so pytest is told not to rewrite it (and not to warn about that).
"""

from __future__ import annotations

import inspect
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pluggy
import pytest

from rsu_sdk import hookspecs
from rsu_sdk.context import PluginContext, Publisher, SiteInfo
from rsu_sdk.errors import PluginConfigError, PublishError
from rsu_sdk.factories import (
    DEFAULT_SITE, T0_NS, make_actuation_command, make_actuation_outcome, make_alarm, make_detections, make_frame,
    make_fused_object, make_health_event, make_object_list, make_prediction, make_radar_object, make_radar_scan,
    make_reading,
)
from rsu_sdk.payloads import publish_product
from rsu_sdk.routing import hook_for
from rsu_sdk.topics import check_source, topic_for
from rsu_sdk.types import Frame, Product

__all__ = [
    "DEFAULT_SITE", "T0_NS", "PluginRun", "PublishedMessage", "RecordingPublisher", "host_emitter",
    "make_actuation_command",
    "make_actuation_outcome", "make_alarm", "make_detections", "make_frame", "make_fused_object",
    "make_health_event", "make_object_list", "make_prediction", "make_radar_object", "make_radar_scan",
    "make_reading", "new_plugin_manager", "plugin_context", "plugin_manager", "recording_publisher",
    "register_plugin", "run_plugin",
]


# -------------------------------------------------------------------------------------------------
# Publisher and plugin manager
# -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PublishedMessage:
    """One call of :meth:`RecordingPublisher.publish` (``body`` is None) or ``publish_binary``.

    ``topic`` is the topic the host would send it on, ``rsu/<site>/<product>[/<source>]``.
    """

    product: str
    data: Mapping[str, Any]
    source: str | None = None
    schema: str | None = None
    t_event_ns: int | None = None
    body: bytes | None = None
    topic: str = ""


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


class RecordingPublisher:
    """A :class:`~rsu_sdk.context.Publisher` that records each message instead of sending it.

    Like the host's publisher it applies the topic rule of :mod:`rsu_sdk.topics` (a bad product name or
    source level raises :class:`~rsu_sdk.PublishError`) and rejects a payload that is not JSON-serialisable
    (numpy scalars and arrays are converted); ``data`` is stored as a subscriber would decode it.

    :param site: the site name used for :attr:`PublishedMessage.topic`.
    """

    def __init__(self, site: str = DEFAULT_SITE.name) -> None:
        self.site = site
        self.messages: list[PublishedMessage] = []
        self._lock = threading.Lock()

    def _record(self, product: str, data: Mapping[str, Any], body: bytes | None, **meta: Any) -> None:
        topic = topic_for(self.site, product)
        if meta.get("source") is not None:
            topic = f"{topic}/{check_source(meta['source'])}"
        if not isinstance(data, Mapping):
            raise PublishError(f"{product}: payload must be a mapping, got {type(data).__name__}")
        try:
            decoded = json.loads(json.dumps(dict(data), default=_json_default, allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise PublishError(f"{product}: payload is not JSON-serialisable: {exc}") from None
        with self._lock:
            self.messages.append(PublishedMessage(product=product, data=decoded, body=body, topic=topic, **meta))

    def publish(self, product: str, data: Mapping[str, Any], *, source: str | None = None,
                t_event_ns: int | None = None, schema: str | None = None) -> None:
        self._record(product, data, None, source=source, t_event_ns=t_event_ns, schema=schema)

    def publish_binary(self, product: str, header: Mapping[str, Any], body: bytes, *, source: str | None = None,
                       t_event_ns: int | None = None, schema: str | None = None) -> None:
        if not isinstance(body, (bytes, bytearray, memoryview)):
            raise PublishError(f"{product}: body must be bytes, got {type(body).__name__}")
        self._record(product, header, bytes(body), source=source, t_event_ns=t_event_ns, schema=schema)

    def of(self, product: str) -> list[PublishedMessage]:
        """The messages published as ``product``, in order."""
        with self._lock:
            return [m for m in self.messages if m.product == product]

    def of_schema(self, schema: str) -> list[PublishedMessage]:
        """The messages published with schema id ``schema``, in order."""
        with self._lock:
            return [m for m in self.messages if m.schema == schema]


def host_emitter(publisher: Publisher, emitted: list[Product]) -> Callable[[Product], None]:
    """A ``PluginContext.emit`` that does what the host does with an emitted product.

    It checks that a hook receives the product's type, publishes it with the host's payload code
    (:func:`rsu_sdk.payloads.publish_product`; a ``Frame`` is not published, as on the box) and appends it
    to ``emitted`` (where the host would route it to the other plugins). Safe to call from any thread.
    """
    lock = threading.Lock()

    def emit(product: Product) -> None:
        hook_for(product)  # an unknown type is an error, as on the box
        with lock:
            if not isinstance(product, Frame):
                publish_product(publisher, product)
            emitted.append(product)

    return emit


def plugin_context(
    *,
    name: str = "plugin-under-test",
    config: Mapping[str, Any] | None = None,
    publisher: RecordingPublisher | None = None,
    emitted: list[Product] | None = None,
    site: SiteInfo | None = None,
    state_dir: Path | None = None,
) -> PluginContext:
    """The :class:`~rsu_sdk.PluginContext` the host would hand a plugin, for tests that call hooks themselves.

    ``config`` is frozen (read-only) as on the box; ``emit`` is :func:`host_emitter` over ``publisher`` and
    ``emitted`` (pass your own to inspect them); the logger is ``rsu.plugin.<name>``.
    """
    pub = publisher if publisher is not None else RecordingPublisher((site or DEFAULT_SITE).name)
    sink = emitted if emitted is not None else []
    return PluginContext(name=name, site=site or DEFAULT_SITE, config=_freeze(dict(config or {})), publisher=pub,
                         emit=host_emitter(pub, sink), logger=logging.getLogger(f"rsu.plugin.{name}"),
                         state_dir=state_dir)


def new_plugin_manager() -> pluggy.PluginManager:
    """A fresh plugin manager of project ``rsu`` with every rsu hookspec added."""
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    return pm


@pytest.fixture
def plugin_manager() -> pluggy.PluginManager:
    """A fresh plugin manager with the rsu hookspecs (nothing registered)."""
    return new_plugin_manager()


@pytest.fixture
def register_plugin(plugin_manager: pluggy.PluginManager) -> Iterator[Callable[..., object]]:
    """``register_plugin(plugin, name=None)``: register into ``plugin_manager``; unregistered at teardown.

    A class is instantiated first (as the host does); unknown ``rsu_*`` hooks fail here, like at start-up.
    """
    registered: list[object] = []

    def register(plugin: object, name: str | None = None) -> object:
        obj = plugin() if inspect.isclass(plugin) else plugin
        plugin_manager.register(obj, name=name)
        registered.append(obj)
        plugin_manager.check_pending()
        return obj

    yield register
    for obj in registered:
        if plugin_manager.is_registered(obj):
            plugin_manager.unregister(obj)


@pytest.fixture
def recording_publisher() -> RecordingPublisher:
    """A fresh :class:`RecordingPublisher`."""
    return RecordingPublisher()


# -------------------------------------------------------------------------------------------------
# Harness
# -------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class PluginRun:
    """What :func:`run_plugin` observed."""

    plugin: object
    publisher: RecordingPublisher
    emitted: list[Product] = field(default_factory=list)

    @property
    def published(self) -> list[PublishedMessage]:
        """Every message, in order."""
        return list(self.publisher.messages)

    def messages(self, product: str) -> list[PublishedMessage]:
        """The messages published as ``product``."""
        return self.publisher.of(product)

    def emitted_of(self, kind: type) -> list[Any]:
        """The emitted products of type ``kind``."""
        return [p for p in self.emitted if isinstance(p, kind)]


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): _freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def _config_problems(schema: Mapping[str, Any] | None, config: Mapping[str, Any]) -> list[str]:
    if schema is None:
        return ["(top level): the plugin declares no config schema, so it takes no settings"] if config else []
    try:
        import jsonschema
    except ImportError:  # the SDK does not depend on jsonschema; the host validates anyway
        return []
    errors = jsonschema.validators.validator_for(schema)(schema).iter_errors(dict(config))
    return [".".join(str(p) for p in e.absolute_path) + f": {e.message}" if e.absolute_path
            else f"(top level): {e.message}" for e in errors]


def run_plugin(
    plugin: object,
    inputs: Iterable[Product],
    *,
    config: Mapping[str, Any] | None = None,
    site: SiteInfo | None = None,
    name: str = "plugin-under-test",
    state_dir: Path | None = None,
) -> PluginRun:
    """Start ``plugin`` as the host would, feed it ``inputs`` in order, stop it, and return what it did.

    The plugin is registered into a fresh manager (unknown ``rsu_*`` hooks are an error), its ``config`` is
    validated against the schema it declares (when ``jsonschema`` is installed; raises
    :class:`~rsu_sdk.errors.PluginConfigError`), and each input goes to the hook :func:`~rsu_sdk.hook_for`
    names. What the plugin emits is published as the host would publish it (:func:`host_emitter`), so
    ``run.messages("fault")`` shows an emitted ``Alarm``'s payload. Unlike the host, exceptions from the
    plugin propagate, so that the test shows the traceback.
    """
    obj = plugin() if inspect.isclass(plugin) else plugin
    pm = new_plugin_manager()
    pm.register(obj, name=name)
    pm.check_pending()
    settings = dict(config or {})
    problems = _config_problems(pm.hook.rsu_config_schema(), settings)
    if problems:
        raise PluginConfigError(name, problems)
    run = PluginRun(plugin=obj, publisher=RecordingPublisher((site or DEFAULT_SITE).name))
    context = plugin_context(name=name, config=settings, publisher=run.publisher, emitted=run.emitted,
                             site=site, state_dir=state_dir)
    pm.hook.rsu_on_start(context=context)
    try:
        for item in inputs:
            hook_name, arg = hook_for(item)
            getattr(pm.hook, hook_name)(**{arg: item})
    finally:
        pm.hook.rsu_on_stop()
    return run

