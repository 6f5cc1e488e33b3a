"""Camera-radar fusion and tracking: geometry, calibration, time alignment, association, Kalman tracking."""

from rsu.fusion.engine import EngineSettings, FusionEngine

__all__ = ["EngineSettings", "FusionEngine"]
