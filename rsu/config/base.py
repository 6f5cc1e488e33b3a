"""Shared base of every configuration model: unknown keys are rejected, NaN and infinities too."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A config section: unknown keys are errors, numbers are finite, values are immutable after loading."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
