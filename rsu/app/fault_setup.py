"""Config + registered models -> the fault predictor of a box (``fault_prediction``), or nothing.

When it runs (the least surprising rules we found; docs/pipeline.md, "Fault prediction"):

- only when the config has plant readings: an enabled ``sensor_replay`` or ``air_station`` source, or a source
  a plugin registers; otherwise it is off, silently (an intersection config never needs a fault model);
- no ``fault_prediction`` section: the defaults run if an enabled plugin registers the default model (enabling
  the plugin that ships it is all it takes), else it is off, silently (an air-quality site does not predict faults);
- a section with ``enabled: true`` whose ``model`` no enabled plugin registers: a start-up problem naming the
  model and the installed plugin that registers it (found through the entry points, not named here);
  ``enabled: false``: off.

Modes: ``operator`` (default) -> a :class:`~rsu.pipeline.fault_op.FaultWindowOperator` for the runner (keyed,
checkpointed, same on both runners, batch 1); ``inline`` / ``worker`` -> a
:class:`~rsu.pipeline.fault_stage.FaultPredictionStage` (host only, not checkpointed; ``worker`` batches).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from rsu_sdk import RsuError

from rsu.config import RsuConfig
from rsu.config.fault import FaultPredictionConfig
from rsu.app.source_types import yields_readings

__all__ = ["FaultParts", "fault_prediction", "has_plant_readings", "provider_of"]

log = logging.getLogger(__name__)



@dataclass
class FaultParts:
    """What the box runs for fault prediction: operators for the runner, or one host stage."""

    operators: list[Any] = field(default_factory=list)
    stage: Any = None
    mode: str | None = None


def has_plant_readings(cfg: RsuConfig) -> bool:
    """True when an enabled source yields plant readings (or may: a plugin's source kind)."""
    return any(s.enabled and yields_readings(s.type) for s in cfg.sources)


def provider_of(model: str) -> str | None:
    """The installed plugin (enabled or not) whose ``rsu_register_models`` registers ``model``, or None."""
    import importlib.metadata as metadata

    from rsu.plugins.manager import create_plugin_manager
    from rsu.plugins.registry import call_impl, impls_of

    names = sorted({ep.name for ep in metadata.entry_points(group="rsu.plugins")})
    try:
        loaded = create_plugin_manager(names)
    except Exception:  # noqa: BLE001 - only a hint: a broken plugin must not hide the real problem
        log.debug("looking for the provider of %s failed", model, exc_info=True)
        return None
    for impl in impls_of(loaded.pm, "rsu_register_models"):
        try:
            records = call_impl(impl) or []
        except Exception:  # noqa: BLE001
            continue
        if any(getattr(r, "name", None) == model for r in records):
            return impl.plugin_name
    return None


def fault_prediction(cfg: RsuConfig, pm: Any, problems: list[str]) -> FaultParts:
    """The fault predictor ``cfg`` asks for, with the models the plugins in ``pm`` register.

    Problems (model missing, unreadable or inconsistent) are appended to ``problems``, one line each.
    """
    explicit = cfg.fault_prediction is not None
    fc = cfg.fault_prediction or FaultPredictionConfig()
    if not fc.enabled or not has_plant_readings(cfg):
        return FaultParts()
    from rsu.plugins.registry import collect_models

    specs = collect_models(pm)
    spec = specs.get(fc.model)
    if spec is None:
        if explicit:
            found = ", ".join(sorted(specs)) or "none"
            owner = provider_of(fc.model)
            hint = f"enable plugin {owner} (plugins.enabled: [{owner}])" if owner else \
                "install and enable the plugin that ships it"
            problems.append(f"fault_prediction.model: no enabled plugin registers model {fc.model!r}; {hint}, "
                            f"or set fault_prediction.enabled: false (registered models: {found})")
        else:
            log.debug("fault prediction off: no plugin registers %s", fc.model)
        return FaultParts()
    try:
        if fc.mode == "operator":
            from rsu.pipeline.fault_op import FaultWindowOperator

            op = FaultWindowOperator(spec, stride=fc.stride, devices=fc.devices, channel_map=fc.channel_map,
                                     threads=fc.threads, protection=cfg.models.protection)
            op.open()  # load the model now, so that a bad one is a start-up problem
            return FaultParts(operators=[op], mode=fc.mode)
        from rsu.inference.fault_predictor import FaultPredictor
        from rsu.pipeline.dynamic_batch import BatchPolicy
        from rsu.pipeline.fault_stage import FaultPredictionStage

        b = fc.batching
        predictor = FaultPredictor.from_spec(spec, threads=fc.threads, protection=cfg.models.protection)
        stage = FaultPredictionStage(predictor, stride=fc.stride,
                                     devices=fc.devices, channel_map=fc.channel_map,
                                     policy=BatchPolicy(max_batch=b.max_batch, divisor=b.divisor),
                                     capacity=b.capacity)
        return FaultParts(stage=stage, mode=fc.mode)
    except (OSError, ValueError, RsuError) as exc:
        problems.append(f"fault_prediction.model {fc.model!r}: {exc}")
        return FaultParts()
