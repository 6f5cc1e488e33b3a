"""``rsu calibrate CONFIG [--json]``: solve and check the camera homographies and radar poses of a config."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


@click.command("calibrate")
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def command(config: Path, as_json: bool) -> None:
    """Solve each camera's ground homography from its surveyed points (DLT), report reprojection errors in
    pixels and metres and the radar poses; exit 2 when the config or a calibration is bad."""
    from rsu.cli.common import load_config_or_exit
    from rsu.fusion.calibration import calibration_report

    cfg = load_config_or_exit(config)
    poses = dict(cfg.fusion.radars)
    poses.update({s.id: s.pose for s in cfg.sources if getattr(s, "pose", None) is not None})
    report = calibration_report(cfg.fusion, poses)
    if as_json:
        click.echo(json.dumps(report, separators=(",", ":")))
    else:
        for cid, c in report["cameras"].items():
            err = f"rms {c['rms_px']:.2f} px / {c['rms_m']:.3f} m over {c['points']} points" if "rms_px" in c else ""
            click.echo(f"camera {cid}: {c['source']} {err} {'ok' if c['ok'] else 'BAD'}")
        for rid, r in report["radars"].items():
            click.echo(f"radar {rid}: position {r['position']} yaw {r['yaw_deg']} deg")
    if not report["ok"]:
        sys.exit(2)
