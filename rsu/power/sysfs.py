"""Linux cpufreq through sysfs: read each policy, write its governor and ``scaling_max_freq``.

Policies are ``<root>/devices/system/cpu/cpufreq/policy<N>/`` (or, on old kernels,
``<root>/devices/system/cpu/cpu<N>/cpufreq/``). Frequencies are kHz, as sysfs has them. ``root`` is
``/sys`` on a box and a temporary folder in tests.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rsu_sdk import RsuError

__all__ = ["CpuFreq", "Policy", "PowerWriteError", "idle_cap_khz"]

_NUM = re.compile(r"(\d+)$")


class PowerWriteError(RsuError):
    """A power setting could not be written (no permission, read-only file system, no such file, refused)."""


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None


def _int(path: Path) -> int | None:
    text = _read(path)
    try:
        return None if text is None else int(text)
    except ValueError:
        return None


def _order(path: Path) -> int:
    m = _NUM.search(path.name if path.name != "cpufreq" else path.parent.name)
    return int(m.group(1)) if m else 0


@dataclass(frozen=True, slots=True)
class Policy:
    """One cpufreq policy as read (kHz; None where the file is missing or unreadable)."""

    name: str
    path: Path
    cpus: tuple[int, ...]
    governor: str | None
    governors: tuple[str, ...]
    cur_khz: int | None
    min_khz: int | None
    max_khz: int | None
    hw_min_khz: int | None
    hw_max_khz: int | None
    frequencies: tuple[int, ...]
    writable: bool

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["path"] = str(self.path)
        d["cpus"], d["governors"], d["frequencies"] = list(self.cpus), list(self.governors), list(self.frequencies)
        return d


class CpuFreq:
    """The cpufreq policies under ``root`` (default ``/sys``)."""

    def __init__(self, root: Path | str = Path("/sys")) -> None:
        self.root = Path(root)
        self.base = self.root / "devices" / "system" / "cpu" / "cpufreq"

    def policy_dirs(self) -> list[Path]:
        dirs = sorted(self.base.glob("policy[0-9]*"), key=_order) if self.base.is_dir() else []
        if not dirs:
            dirs = sorted((self.base.parent).glob("cpu[0-9]*/cpufreq"), key=_order)
        return [d for d in dirs if (d / "scaling_max_freq").exists()]

    def read(self) -> list[Policy]:
        """Every policy, in order; empty when there is no cpufreq (a container, a VM)."""
        return [self.read_policy(d) for d in self.policy_dirs()]

    def read_policy(self, d: Path) -> Policy:
        cpus_text = _read(d / "affected_cpus") or _read(d / "related_cpus") or ""
        cpus = tuple(int(c) for c in cpus_text.split() if c.isdigit())
        if not cpus and d.name == "cpufreq":
            cpus = (_order(d),)
        freqs = tuple(sorted(int(f) for f in (_read(d / "scaling_available_frequencies") or "").split()
                             if f.isdigit()))
        writable = all(os.access(d / f, os.W_OK) for f in ("scaling_max_freq", "scaling_governor")
                       if (d / f).exists())
        return Policy(
            name=d.name if d.name != "cpufreq" else d.parent.name,
            path=d,
            cpus=cpus,
            governor=_read(d / "scaling_governor"),
            governors=tuple((_read(d / "scaling_available_governors") or "").split()),
            cur_khz=_int(d / "scaling_cur_freq"),
            min_khz=_int(d / "scaling_min_freq"),
            max_khz=_int(d / "scaling_max_freq"),
            hw_min_khz=_int(d / "cpuinfo_min_freq"),
            hw_max_khz=_int(d / "cpuinfo_max_freq"),
            frequencies=freqs,
            writable=writable,
        )

    def write(self, policy: Policy, name: str, value: str | int) -> None:
        """Write ``value`` to the policy's file ``name``; PowerWriteError naming the file and why."""
        path = policy.path / name
        try:
            with open(path, "w", encoding="ascii") as f:  # sysfs wants one write of the whole value
                f.write(f"{value}\n")
        except OSError as exc:
            raise PowerWriteError(f"{path}: {exc.strerror or exc}") from None

    def set_max_khz(self, policy: Policy, khz: int) -> None:
        self.write(policy, "scaling_max_freq", int(khz))

    def set_governor(self, policy: Policy, governor: str) -> None:
        self.write(policy, "scaling_governor", governor)


def idle_cap_khz(policy: Policy, wanted_khz: int) -> int:
    """The lowest cap the hardware allows at or above ``wanted_khz`` (never above the current cap)."""
    floor = max(wanted_khz, policy.hw_min_khz or 0, policy.min_khz or 0)
    if policy.frequencies:
        above = [f for f in policy.frequencies if f >= floor]
        floor = above[0] if above else policy.frequencies[-1]
    return floor if policy.max_khz is None else min(floor, policy.max_khz)
