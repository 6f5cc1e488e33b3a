"""Power management: lower the CPU frequency cap while the box is idle, restore it at once on activity.

- :mod:`rsu.power.sysfs`: Linux cpufreq policies under a sysfs root (``/sys``, or a fake tree in tests).
- :mod:`rsu.power.nvpmodel`: Jetson power modes, used only when the ``nvpmodel`` binary exists.
- :mod:`rsu.power.governor`: the idle / busy state machine driven by the box's activity.
- :mod:`rsu.power.stage`: the governor as an observing stage of the host (``power.enabled``).
"""

from __future__ import annotations

from rsu.power.governor import PowerGovernor
from rsu.power.sysfs import CpuFreq, Policy, PowerWriteError

__all__ = ["CpuFreq", "Policy", "PowerGovernor", "PowerWriteError"]
