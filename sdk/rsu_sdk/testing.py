"""Test kit for plugin authors: an opt-in pytest plugin, data factories and a harness.

Enable it in a test module or the root ``conftest.py``::

    pytest_plugins = ["rsu_sdk.testing"]

    def test_alarm(register_plugin):
        run = run_plugin(MyPlugin(), [make_reading(values={"temp": 1900.0})], config={"limit": 1800})
        assert run.messages("fault")

Fixtures: ``plugin_manager`` (a fresh manager with the rsu hookspecs), ``register_plugin`` (registers a plugin
into it and unregisters it at teardown), ``recording_publisher``. Factories ``make_*`` build valid values
with sensible defaults; any field can be overridden by keyword. :func:`run_plugin` starts a plugin the way
the host does, feeds it inputs, stops it and returns what it published and emitted.

PYTEST_DONT_REWRITE: this module asserts nothing itself, and test modules import it before pytest
registers it as a plugin, so pytest is told not to rewrite it (and not to warn about that).
"""

from __future__ import annotations

import inspect
import json
import logging
import re
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
from rsu_sdk.context import PluginContext, SiteInfo
from rsu_sdk.errors import PluginConfigError, PublishError
from rsu_sdk.factories import (
    DEFAULT_SITE, T0_NS, make_actuation_command, make_actuation_outcome, make_alarm, make_detections, make_frame,
    make_fused_object, make_health_event, make_object_list, make_prediction, make_radar_object, make_radar_scan,
    make_reading,
)
from rsu_sdk.routing import hook_for
from rsu_sdk.types import Product

__all__ = [
    "DEFAULT_SITE", "T0_NS", "PluginRun", "PublishedMessage", "RecordingPublisher", "make_actuation_command",
    "make_actuation_outcome", "make_alarm", "make_detections", "make_frame", "make_fused_object",
    "make_health_event", "make_object_list", "make_prediction", "make_radar_object", "make_radar_scan",
    "make_reading", "new_plugin_manager", "plugin_manager", "recording_publisher", "register_plugin",
    "run_plugin",
]

_PRODUCT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)*$")


# -------------------------------------------------------------------------------------------------
# Publisher and plugin manager
# -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PublishedMessage:
    """One call of :meth:`RecordingPublisher.publish` (``body`` is None) or ``publish_binary``."""

    product: str
    data: Mapping[str, Any]
    source: str | None = None
    schema: str | None = None
    t_event_ns: int | None = None
    body: bytes | None = None


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


class RecordingPublisher:
    """A :class:`~rsu_sdk.context.Publisher` that records each message instead of sending it.

    Like the host's publisher it rejects a bad product name or a payload that is not JSON-serialisable
    (numpy scalars and arrays are converted); ``data`` is stored as a subscriber would decode it.
    """

    def __init__(self) -> None:
        self.messages: list[PublishedMessage] = []
        self._lock = threading.Lock()

    def _record(self, product: str, data: Mapping[str, Any], body: bytes | None, **meta: Any) -> None:
        if not isinstance(product, str) or not _PRODUCT_NAME.match(product):
            raise PublishError(f"product: expected lower-case topic levels like 'fault' or 'v2x/cpm', got {product!r}")
        if not isinstance(data, Mapping):
            raise PublishError(f"{product}: payload must be a mapping, got {type(data).__name__}")
        try:
            decoded = json.loads(json.dumps(dict(data), default=_json_default, allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise PublishError(f"{product}: payload is not JSON-serialisable: {exc}") from None
        with self._lock:
            self.messages.append(PublishedMessage(product=product, data=decoded, body=body, **meta))

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
        return [m for m in self.messages if m.product == product]


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
    names. Unlike the host, exceptions from the plugin propagate, so that the test shows the traceback.
    """
    obj = plugin() if inspect.isclass(plugin) else plugin
    pm = new_plugin_manager()
    pm.register(obj, name=name)
    pm.check_pending()
    settings = dict(config or {})
    problems = _config_problems(pm.hook.rsu_config_schema(), settings)
    if problems:
        raise PluginConfigError(name, problems)
    run = PluginRun(plugin=obj, publisher=RecordingPublisher())
    context = PluginContext(name=name, site=site or DEFAULT_SITE, config=_freeze(settings),
                            publisher=run.publisher, emit=run.emitted.append,
                            logger=logging.getLogger(f"rsu.plugin.{name}"), state_dir=state_dir)
    pm.hook.rsu_on_start(context=context)
    try:
        for item in inputs:
            hook_name, arg = hook_for(item)
            getattr(pm.hook, hook_name)(**{arg: item})
    finally:
        pm.hook.rsu_on_stop()
    return run

