"""The ``federated`` section: the aggregator (``rsu federate serve``) and the box's hot swap of new versions."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from rsu.config.base import StrictModel
from rsu.config.hosts import ZmqEndpoint
from rsu.config.publish import ClientCurveConfig, CurveConfig
from rsu.core.netsec import insecure_bind_problem

__all__ = ["AggregatorConfig", "FederatedClientConfig", "FederatedConfig"]


class AggregatorConfig(StrictModel):
    """Robust averaging of the boxes' updates; each round makes the next global version in ``store``."""

    bind: ZmqEndpoint = Field(default="tcp://127.0.0.1:5580", min_length=6,
                              description="beyond loopback only with ``curve`` (start-up is refused otherwise)")
    curve: CurveConfig | None = Field(default=None, description="CURVE keys: only the boxes in authorized_keys "
                                                                "can send updates or fetch models")
    store: str = Field(default="var/federated", min_length=1, description="folder of the versioned global models")
    model: str = Field(default="fault-lstm", min_length=1)
    template: str | None = Field(default=None, description="ONNX file of version 0 (default: the model's file as "
                                                           "the plugin that registers it ships it)")
    min_updates: int = Field(default=3, ge=1, description="boxes per round")
    max_staleness: int = Field(default=0, ge=0, le=1000,
                               description="accept updates trained from this many versions back")
    aggregate: Literal["trimmed_mean", "median", "fedavg"] = Field(
        default="trimmed_mean", description="per weight: trimmed, sample-weighted mean; median; or plain FedAvg "
                                            "(not robust: one box can move it anywhere)")
    trim: float = Field(default=0.2, ge=0, lt=0.5, description="trimmed_mean: share of boxes dropped at each end "
                                                               "per weight (rounded up, at least one box kept)")
    max_samples: int = Field(default=10_000_000, ge=1, le=2**62,
                             description="an update claiming more training windows is refused")
    max_distance: float | None = Field(default=1.0, gt=0, description="an update farther than this from the current "
                                                                       "model (||w - g|| / ||g||) is refused; null: off")
    max_update_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024,
                                  description="a larger weights archive is refused (a far larger message "
                                              "disconnects the sender)")

    @model_validator(mode="after")
    def _secure_beyond_loopback(self) -> AggregatorConfig:
        problem = insecure_bind_problem(self.bind, self.curve, "federated.aggregator.curve")
        if problem:
            raise ValueError(problem)
        return self


class FederatedClientConfig(StrictModel):
    """On the box: poll the aggregator and swap each new global version into the running fault predictor."""

    endpoint: ZmqEndpoint = Field(default="tcp://127.0.0.1:5580", min_length=6)
    curve: ClientCurveConfig | None = Field(default=None, description="needed when the aggregator runs CURVE")
    poll_s: float = Field(default=30.0, gt=0)
    timeout_s: float = Field(default=5.0, gt=0)


class FederatedConfig(StrictModel):
    aggregator: AggregatorConfig = AggregatorConfig()
    client: FederatedClientConfig | None = None
