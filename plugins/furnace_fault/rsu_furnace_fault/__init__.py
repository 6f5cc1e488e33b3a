"""rsu plugin: blast furnace fault prediction (the shipped LSTM and alarm hysteresis)."""

from __future__ import annotations

from rsu_furnace_fault.alarm import AlarmRule, DeviceAlarm
from rsu_furnace_fault.model import MODEL_KIND, load_metadata, model_specs
from rsu_furnace_fault.plugin import FurnaceFault

__version__ = "0.1.0"

__all__ = ["MODEL_KIND", "AlarmRule", "DeviceAlarm", "FurnaceFault", "__version__", "load_metadata", "model_specs"]
