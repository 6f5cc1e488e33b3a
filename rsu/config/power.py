"""The ``power`` section: lower the CPU frequency cap while the box is idle, restore it at once on activity."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from rsu.config.base import StrictModel

__all__ = ["PowerConfig", "NvpmodelConfig"]


class NvpmodelConfig(StrictModel):
    """Jetson power modes (``nvpmodel``), used only when the binary exists."""

    idle_mode: int | None = Field(default=None, ge=0,
                                  description="nvpmodel mode id while idle; the mode read at start is restored")
    binary: str = Field(default="nvpmodel", description="name or path of the nvpmodel binary")


class PowerConfig(StrictModel):
    """Idle / busy power governor (rsu/power). Off by default: it writes the machine's cpufreq files."""

    enabled: bool = False
    sysfs_root: Path = Field(default=Path("/sys"), description="root of sysfs (a fake tree in tests)")
    idle_after_s: float = Field(default=60.0, gt=0, description="quiet this long before the cap is lowered")
    idle_below_per_s: float = Field(
        default=1.0, ge=0,
        description="activity products per second (non-empty detections, radar cycles and object lists, "
                    "readings, predictions, alarms, actuations) at or below which the box counts as quiet")
    busy_cpu_pct: float = Field(default=70.0, gt=0, le=100, description="CPU load above this counts as busy")
    idle_max_khz: int = Field(default=500_000, gt=0,
                              description="scaling_max_freq while idle, raised to what the hardware allows")
    idle_governor: str | None = Field(default="powersave",
                                      description="cpufreq governor while idle when the policy offers it; "
                                                  "null keeps the governor")
    interval_s: float = Field(default=1.0, gt=0, description="how often the governor looks at the activity")
    nvpmodel: NvpmodelConfig = NvpmodelConfig()
