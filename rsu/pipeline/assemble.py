"""Config -> operators -> runner: what ``rsu run`` (the box builder) calls for the keyed, stateful part."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rsu.pipeline.operators import Operator

__all__ = ["operators_from_config", "embedded_runner", "checkpoint_dir", "wants_fusion"]


def operators_from_config(cfg: Any, extra: Sequence[Operator] = ()) -> list[Operator]:
    """The operators a config asks for: fusion when enabled and calibrated, plus ``extra`` (e.g. the fault
    predictor's per-device windows, built by their owners)."""
    from rsu.pipeline.fusion_op import FusionOperator

    ops: list[Operator] = [FusionOperator(cfg)] if wants_fusion(cfg) else []
    ops.extend(extra)
    return ops


def wants_fusion(cfg: Any) -> bool:
    """True when the config runs the fusion operator: enabled, with a calibrated camera or a placed radar."""
    fc = cfg.fusion
    has_radar = bool(fc.radars) or any(getattr(s, "pose", None) is not None for s in cfg.sources)
    return bool(fc.enabled and (fc.cameras or has_radar))


def checkpoint_dir(cfg: Any, base_dir: Path | None = None) -> Path:
    """``pipeline.checkpoint.dir``; relative paths are taken from ``base_dir`` (the working directory)."""
    d = Path(cfg.pipeline.checkpoint.dir)
    return d if d.is_absolute() or base_dir is None else Path(base_dir) / d


def embedded_runner(cfg: Any, operators: Sequence[Operator], *, base_dir: Path | None = None,
                    stats: Any = None, activity: Any = None) -> Any:
    """An :class:`EmbeddedRunner` for ``operators`` with the config's watermark and checkpoint settings."""
    from rsu.pipeline.checkpoint import Checkpointer
    from rsu.pipeline.embedded import EmbeddedRunner, fingerprint

    pc = cfg.pipeline
    ckpt = None
    if pc.checkpoint.enabled:
        ckpt = Checkpointer(checkpoint_dir(cfg, base_dir), keep=pc.checkpoint.keep,
                            fingerprint=fingerprint(operators))
    return EmbeddedRunner(operators, out_of_orderness_ms=pc.out_of_orderness_ms, checkpointer=ckpt,
                          checkpoint_interval_s=pc.checkpoint.interval_s, stats=stats,
                          idle_timeout_ms=pc.idle_timeout_ms, activity=activity)


def operator_stage(cfg: Any, operators: Sequence[Operator], *, emit: Any, base_dir: Path | None = None,
                   stats: Any = None, activity: Any = None) -> Any:
    """The Box stage that runs ``operators`` with the configured runner (``cfg.runner``).

    ``emit`` hands the Flink runner's outputs to the box (its derived lane, as the stage's own outputs);
    ``activity(source)`` tells the embedded runner's watermarks when a source last sent.
    """
    if cfg.runner == "flink":
        from rsu.pipeline.flink.runner import FlinkRunner

        return FlinkRunner(operators, cfg.pipeline, emit, checkpoint_dir=checkpoint_dir(cfg, base_dir) / "flink")
    return embedded_runner(cfg, operators, base_dir=base_dir, stats=stats, activity=activity)
