"""The root of the configuration file."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from rsu.config.base import StrictModel
from rsu.config.fault import FaultPredictionConfig
from rsu.config.federated import FederatedConfig
from rsu.config.fusion import FusionConfig, check_fusion_sources
from rsu.config.metrics import MetricsConfig
from rsu.config.models import ModelsConfig, PrivacyConfig
from rsu.config.pipeline import PipelineConfig
from rsu.config.plugins import PluginsConfig
from rsu.config.power import PowerConfig
from rsu.config.publish import PublishConfig
from rsu.config.site import SiteConfig
from rsu.config.sources import SourceConfig
from rsu.config.tiered import TieredConfig
from rsu.config.web import WebConfig


class RsuConfig(StrictModel):
    """A whole rsu configuration (one YAML file)."""

    version: Literal[1] = 1
    site: SiteConfig
    runner: Literal["embedded", "flink"] = "embedded"
    sources: list[SourceConfig] = Field(default_factory=list)
    publish: PublishConfig = PublishConfig()
    plugins: PluginsConfig = PluginsConfig()
    models: ModelsConfig = ModelsConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    fusion: FusionConfig = FusionConfig()
    pipeline: PipelineConfig = PipelineConfig()
    power: PowerConfig = PowerConfig()
    web: WebConfig = WebConfig()
    metrics: MetricsConfig = MetricsConfig()
    fault_prediction: FaultPredictionConfig | None = None
    tiered: TieredConfig | None = None  # offload hard camera frames to an edge server (rsu/tiered)
    federated: FederatedConfig | None = None  # federated averaging of the fault model (rsu/federated)

    @model_validator(mode="after")
    def _unique_source_ids(self) -> RsuConfig:
        seen: dict[str, int] = {}
        for i, src in enumerate(self.sources):
            if src.id in seen:
                raise ValueError(f"sources[{i}].id: duplicate id {src.id!r} (also sources[{seen[src.id]}])")
            seen[src.id] = i
        check_fusion_sources(self.fusion, self.sources)
        return self
