"""Box side wiring: with ``federated.client`` set, a :class:`~rsu.federated.hotswap.ModelWatcher` swaps each new
global version into the box's running fault predictor (no restart).

The predictor swapped is the one in this process: the ``operator`` mode on the embedded runner and the
``inline``/``worker`` modes. With the Flink runner the operator runs inside the job, so the watcher is not
started there (logged); restart the job to pick up a version.
"""

from __future__ import annotations

import logging
from typing import Any

from rsu.config import RsuConfig

__all__ = ["attach_hot_swap", "fault_predictor_of"]

log = logging.getLogger(__name__)


def fault_predictor_of(fault: Any) -> Any:
    """The :class:`~rsu.inference.fault_predictor.FaultPredictor` of the box's fault parts, or None."""
    if fault.stage is not None:
        return fault.stage.predictor
    for op in fault.operators:
        scorer = getattr(op, "scorer", None)
        if scorer is not None and hasattr(scorer, "predictor"):
            return scorer.predictor
    return None


def attach_hot_swap(cfg: RsuConfig, fault: Any) -> Any:
    """The watcher for the fault predictor (not started: the box starts and stops it as a service), or None
    when not configured or not applicable."""
    fc = cfg.federated.client if cfg.federated is not None else None
    if fc is None:
        return None
    predictor = fault_predictor_of(fault)
    if predictor is None:
        log.info("federated.client: no fault predictor runs on this box; nothing to hot-swap")
        return None
    if cfg.runner == "flink" and not fault.stage:
        log.warning("federated.client: the fault operator runs inside the Flink job; new global versions are "
                    "picked up when the job restarts, not hot-swapped")
        return None
    from rsu.federated.client import FederatedClient
    from rsu.federated.hotswap import ModelWatcher

    client = FederatedClient(fc.endpoint, timeout_s=fc.timeout_s, curve=fc.curve)
    watcher = ModelWatcher(client, cfg.federated.aggregator.model,
                           lambda data, version: predictor.reload(data, version), poll_s=fc.poll_s)
    return watcher
