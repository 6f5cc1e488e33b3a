"""Alignment, fusion and tracking as one keyed operator around :class:`rsu.fusion.FusionEngine`.

Key: the engine's output source (one engine per fusion group). State: the engine itself (value state
``engine``); it aligns camera and radar by event time internally. A timer at end of input flushes what the
alignment still holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rsu_sdk import Detections, ObjectList, Product, RadarScan

from rsu.pipeline.operators import END_OF_INPUT, Context, Operator

__all__ = ["FusionOperator"]


class FusionOperator(Operator):
    """Detections + RadarScan -> ObjectList, keyed by fusion group. ``cfg`` is the whole RsuConfig."""

    handles = (Detections, RadarScan)
    state_version = 2  # 2: the tracker keeps its tracks in a columnar TrackTable

    def __init__(self, cfg: Any, *, mode: str | None = None, name: str = "fusion") -> None:
        self.name = name
        self._cfg = cfg
        self._mode = mode
        self._group = cfg.fusion.output_source
        self._last: dict[str, Any] = {}

    def key(self, element: Product) -> str:
        return self._group

    def key_spec(self) -> tuple[str, str]:
        return ("const", self._group)  # one site's fusion is one key: one subtask (docs/scale-out.md)

    def _engine(self, ctx: Context) -> Any:
        from rsu.fusion import FusionEngine

        state = ctx.value_state("engine")
        engine = state.value()
        if engine is None:
            engine = FusionEngine.from_config(self._cfg, mode=self._mode)  # type: ignore[arg-type]
            ctx.register_timer(END_OF_INPUT)
        return engine

    def process(self, element: Product, ctx: Context) -> Iterable[ObjectList]:
        engine = self._engine(ctx)
        if isinstance(element, Detections):
            out = engine.on_detections(element)
        else:
            out = engine.on_radar(element)
        ctx.value_state("engine").update(engine)
        self._last[ctx.key] = engine
        return out

    def on_timer(self, t_ns: int, ctx: Context) -> Iterable[ObjectList]:
        if t_ns != END_OF_INPUT:
            return ()
        engine = ctx.value_state("engine").value()
        if engine is None:
            return ()
        out = engine.flush()
        ctx.value_state("engine").update(engine)
        return out

    def stats(self) -> dict[str, Any]:
        return {key: engine.stats() for key, engine in self._last.items()}

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_last": {}}
