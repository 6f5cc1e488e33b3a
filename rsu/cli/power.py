"""``rsu power status [--json] [--sysfs ROOT]``: what the box reads of its CPU frequency settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click


def _status(sysfs: Path, nvpmodel_binary: str) -> dict[str, Any]:
    from rsu.power.nvpmodel import Nvpmodel
    from rsu.power.sysfs import CpuFreq, PowerWriteError

    cpufreq = CpuFreq(sysfs)
    policies = cpufreq.read()
    nv = Nvpmodel(nvpmodel_binary)
    nv_info: dict[str, Any] = {"present": nv.available, "path": nv.path}
    if nv.available:
        try:
            nv_info["mode"], nv_info["name"] = nv.query()
        except PowerWriteError as exc:
            nv_info["error"] = str(exc)
    return {
        "sysfs": str(sysfs),
        "cpufreq": bool(policies),
        "can_write": bool(policies) and all(p.writable for p in policies),
        "policies": [p.as_dict() for p in policies],
        "nvpmodel": nv_info,
    }


def _mhz(khz: int | None) -> str:
    return "-" if khz is None else f"{khz / 1000:.0f}"


@click.group("power")
def command() -> None:
    """Power management (CPU frequency cap while idle; config section `power`)."""


@command.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.option("--sysfs", type=click.Path(path_type=Path), default=Path("/sys"), show_default=True,
              help="sysfs root to read (a copy or a fake tree).")
@click.option("--nvpmodel", "nvpmodel_binary", default="nvpmodel", show_default=True,
              help="nvpmodel binary (Jetson), used only when it exists.")
def status(as_json: bool, sysfs: Path, nvpmodel_binary: str) -> None:
    """Governor, current / min / max frequency per cpufreq policy, and whether rsu may write them."""
    info = _status(sysfs, nvpmodel_binary)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    if not info["policies"]:
        click.echo(f"no cpufreq policies under {sysfs}/devices/system/cpu/cpufreq (a container or VM?)")
    for p in info["policies"]:
        click.echo(f"{p['name']} cpus {','.join(map(str, p['cpus'])) or '?'}: governor {p['governor']}, "
                   f"cur {_mhz(p['cur_khz'])} MHz, min {_mhz(p['min_khz'])} MHz, max {_mhz(p['max_khz'])} MHz "
                   f"(hardware {_mhz(p['hw_min_khz'])}-{_mhz(p['hw_max_khz'])} MHz), "
                   f"{'writable' if p['writable'] else 'read-only'}")
    nv = info["nvpmodel"]
    mode = f"mode {nv.get('mode')} {nv.get('name') or ''}".rstrip() if nv["present"] else "not present"
    click.echo(f"nvpmodel: {mode}")
    click.echo(f"can write: {'yes' if info['can_write'] else 'no'}")
