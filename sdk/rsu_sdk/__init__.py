"""rsu_sdk: everything a plugin for the rsu edge appliance imports.

Implement hooks from :mod:`rsu_sdk.hookspecs` with :data:`hookimpl`; exchange the frozen values of
:mod:`rsu_sdk.types`; hand SDK products to ``context.emit`` (the host publishes and routes them) and publish
your own products through the :class:`Publisher` in the :class:`PluginContext` the host hands you (topic rule:
:mod:`rsu_sdk.topics`).
Register the plugin in the entry point group ``rsu.plugins`` (:data:`ENTRY_POINT_GROUP`). Test it with the
opt-in pytest plugin :mod:`rsu_sdk.testing` (``pytest_plugins = ["rsu_sdk.testing"]``: fixtures, ``make_*``
factories from :mod:`rsu_sdk.factories`, and ``run_plugin``). ``rsu plugin new NAME`` writes a template.
"""

from __future__ import annotations

import pluggy

from rsu_sdk.context import PluginContext, Publisher, SiteInfo
from rsu_sdk.errors import InvalidDataError, PluginConfigError, PublishError, RsuError
from rsu_sdk.records import EncoderSpec, ModelSpec, SourceSpec, StageSpec
from rsu_sdk.routing import PRODUCT_HOOKS, hook_for
from rsu_sdk.types import (
    ACTIONS,
    HEALTH_STATUSES,
    OBJECT_CLASSES,
    PRODUCT_TYPES,
    RADAR_CLASSES,
    SEVERITIES,
    TRACK_STATES,
    ActuationCommand,
    ActuationOutcome,
    Alarm,
    Detections,
    Frame,
    FusedObject,
    HealthEvent,
    ObjectList,
    Prediction,
    Product,
    RadarObject,
    RadarScan,
    SensorReading,
)

__version__ = "0.2.0"

hookimpl = pluggy.HookimplMarker("rsu")
"""Mark a function or method as an implementation of an ``rsu_*`` hook."""

ENTRY_POINT_GROUP = "rsu.plugins"
"""The entry point group a plugin distribution registers itself in."""

__all__ = [
    "ACTIONS",
    "ENTRY_POINT_GROUP",
    "HEALTH_STATUSES",
    "OBJECT_CLASSES",
    "PRODUCT_TYPES",
    "RADAR_CLASSES",
    "SEVERITIES",
    "TRACK_STATES",
    "PRODUCT_HOOKS",
    "ActuationCommand",
    "ActuationOutcome",
    "Alarm",
    "Detections",
    "EncoderSpec",
    "Frame",
    "FusedObject",
    "HealthEvent",
    "InvalidDataError",
    "ModelSpec",
    "ObjectList",
    "PluginConfigError",
    "PluginContext",
    "Prediction",
    "Product",
    "PublishError",
    "Publisher",
    "RadarObject",
    "RadarScan",
    "RsuError",
    "SensorReading",
    "SiteInfo",
    "SourceSpec",
    "StageSpec",
    "__version__",
    "hook_for",
    "hookimpl",
]
