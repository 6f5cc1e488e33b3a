"""The aggregation as a keyed operator (key: model name), so the embedded and the Flink runner run the same code.

Per model the state is the current global version and the round's pending updates (newest per box). An
update trained from an older version than ``max_staleness`` allows is dropped (counted ``stale``); one from a
version the aggregator has not made yet is dropped (``future``). When ``min_updates`` boxes have sent an
update, :func:`~rsu.federated.robust.aggregate` combines them (``trimmed_mean`` by default, or ``median`` /
``fedavg``; boxes in sorted order, so both runners add in the same order and give bit-identical weights) and the
operator emits the next :class:`GlobalModel`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from rsu.federated.messages import GlobalModel, ModelUpdate
from rsu.federated.robust import AGGREGATES, aggregate
from rsu.pipeline.operators import Context, Operator

__all__ = ["FedAvgOperator"]


class FedAvgOperator(Operator):
    """ModelUpdate -> GlobalModel every ``min_updates`` boxes.

    :param start_versions: model -> the version the store already holds (a restarted aggregator goes on from it).
    """

    name = "fedavg"
    handles = (ModelUpdate,)

    def __init__(self, *, min_updates: int = 3, max_staleness: int = 0,
                 start_versions: Mapping[str, int] | None = None, method: str = "trimmed_mean",
                 trim: float = 0.2) -> None:
        if min_updates < 1 or max_staleness < 0:
            raise ValueError(f"min_updates must be >= 1 and max_staleness >= 0, got {min_updates}, {max_staleness}")
        if method not in AGGREGATES or not 0 <= trim < 0.5:
            raise ValueError(f"aggregate must be one of {AGGREGATES} and trim in [0, 0.5), got {method!r}, {trim}")
        self.method = method
        self.trim = trim
        self.min_updates = min_updates
        self.max_staleness = max_staleness
        self.start_versions = dict(start_versions or {})
        self.counts: Counter[str] = Counter()

    def key(self, element: Any) -> str:
        return element.model

    def key_spec(self) -> tuple[str, str]:
        return ("field", "model")

    def process(self, element: Any, ctx: Context) -> Iterable[GlobalModel]:
        update: ModelUpdate = element
        st = ctx.value_state("round")
        state = st.value() or {"version": self.start_versions.get(update.model, 0), "pending": {}, "shapes": None}
        version = state["version"]
        shapes = {k: tuple(v.shape) for k, v in update.weights.items()}
        if update.base_version > version:
            self.counts["future"] += 1
            return ()
        if version - update.base_version > self.max_staleness:
            self.counts["stale"] += 1
            return ()
        if state["shapes"] is not None and shapes != state["shapes"]:
            self.counts["shape_mismatch"] += 1
            return ()
        state["shapes"] = shapes
        if update.source in state["pending"]:
            self.counts["replaced"] += 1
        state["pending"][update.source] = (dict(update.weights), int(update.samples))
        self.counts["accepted"] += 1
        out: list[GlobalModel] = []
        if len(state["pending"]) >= self.min_updates:
            boxes = sorted(state["pending"])
            parts = [state["pending"][b] for b in boxes]
            state["version"] = version + 1
            state["pending"] = {}
            out.append(GlobalModel(source=self.name, t_event_ns=update.t_event_ns, model=update.model,
                                   version=version + 1, weights=aggregate(parts, self.method, self.trim),
                                   contributors=tuple(boxes), samples=sum(n for _, n in parts)))
            self.counts["rounds"] += 1
        st.update(state)
        return out

    def stats(self) -> dict[str, Any]:
        return {"min_updates": self.min_updates, "aggregate": self.method, "trim": self.trim, **dict(self.counts)}
