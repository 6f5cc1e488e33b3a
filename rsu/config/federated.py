"""The ``federated`` section: the aggregator (``rsu federate serve``) and the box's hot swap of new versions."""

from __future__ import annotations

from pydantic import Field

from rsu.config.base import StrictModel
from rsu.config.hosts import ZmqEndpoint

__all__ = ["AggregatorConfig", "FederatedClientConfig", "FederatedConfig"]


class AggregatorConfig(StrictModel):
    """FedAvg over the boxes' updates; each round makes the next global version in ``store``."""

    bind: ZmqEndpoint = Field(default="tcp://127.0.0.1:5580", min_length=6)
    store: str = Field(default="var/federated", min_length=1, description="folder of the versioned global models")
    model: str = Field(default="fault-lstm", min_length=1)
    template: str | None = Field(default=None, description="ONNX file of version 0 (default: the model's file as "
                                                           "the plugin that registers it ships it)")
    min_updates: int = Field(default=3, ge=1, description="boxes per round")
    max_staleness: int = Field(default=0, ge=0, description="accept updates trained from this many versions back")


class FederatedClientConfig(StrictModel):
    """On the box: poll the aggregator and swap each new global version into the running fault predictor."""

    endpoint: ZmqEndpoint = Field(default="tcp://127.0.0.1:5580", min_length=6)
    poll_s: float = Field(default=30.0, gt=0)
    timeout_s: float = Field(default=5.0, gt=0)


class FederatedConfig(StrictModel):
    aggregator: AggregatorConfig = AggregatorConfig()
    client: FederatedClientConfig | None = None
