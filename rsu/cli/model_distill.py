"""``rsu model distill``: train a pruned YOLOv5s student on a site video from a teacher detector's labels."""

from __future__ import annotations

import json
import shlex
import sys

import click


class _UserError(click.ClickException):
    exit_code = 2


def _progress(msg: str) -> None:
    click.echo(f"[rsu model distill] {msg}", err=True)


@click.command("distill")
@click.option("--video", required=True, help="The site's video (frames are split by time, never at random).")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run folder (labels, dataset, models, "
              "record.json).")
@click.option("--teacher", default="nanodet-m", show_default=True, help="Teacher detector (a model name or file).")
@click.option("--conf", default=0.35, show_default=True, type=click.FloatRange(0, 1),
              help="Teacher confidence threshold for a label.")
@click.option("--flip-tta", is_flag=True, help="Teacher labels from the frame and its mirror image (merged).")
@click.option("--imgsz", default=320, show_default=True, help="Student input size (multiple of 32).")
@click.option("--export-imgsz", type=int, default=None,
              help="Input size (long side) of the exported models, e.g. smaller than --imgsz for speed "
                   "[default: --imgsz].")
@click.option("--epochs", default=30, show_default=True, type=click.IntRange(1), help="Training epochs.")
@click.option("--ratio", default=0.6, show_default=True, type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="Channel pruning ratio (0.6: about -76% parameters).")
@click.option("--train-frac", default=0.8, show_default=True,
              type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="The first part of the video (by time) used for training; the rest is held out.")
@click.option("--gap-frames", type=click.IntRange(0), default=None,
              help="Frames left out between train and held-out parts [default: 2% of the video].")
@click.option("--frames-limit", type=click.IntRange(3), default=None, help="Use only the first N frames.")
@click.option("--seed", default=0, show_default=True, help="Seed of the student's initial weights and training.")
@click.option("--batch", default=16, show_default=True, type=click.IntRange(1), help="Training batch size.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(0), help="Data loader workers.")
@click.option("--resume", is_flag=True, help="Continue a run in --out: skip finished steps, resume training.")
@click.option("--json", "as_json", is_flag=True, help="Print the record as one JSON object.")
def distill_cmd(video: str, out: str, teacher: str, conf: float, flip_tta: bool, imgsz: int,
                export_imgsz: int | None, epochs: int,
                ratio: float, train_frac: float, gap_frames: int | None, frames_limit: int | None, seed: int,
                batch: int, workers: int, resume: bool, as_json: bool) -> None:
    """Distil the teacher into a pruned YOLOv5s for one site: label (teacher), dataset, prune, train (CPU),
    export ONNX, static INT8, evaluate on the held-out frames. Needs the tools extra: pip install 'rsu[tools]'.
    """
    from rsu.eval.detector import evaluate_detector
    from rsu.inference.session import ModelError
    from rsu.modeltools.distill import DistillError, DistillOptions, run_distill
    from rsu.modeltools.env import ToolsMissingError

    opts = DistillOptions(video=video, out=out, teacher=teacher, conf=conf, flip_tta=flip_tta, imgsz=imgsz,
                          export_imgsz=export_imgsz, epochs=epochs, ratio=ratio, train_frac=train_frac,
                          gap_frames=gap_frames, frames_limit=frames_limit, seed=seed, batch=batch, workers=workers,
                          command=shlex.join(["rsu", *sys.argv[1:]]) if "distill" in sys.argv[1:] else "")
    try:
        record = run_distill(opts, evaluate_detector, resume=resume, progress=_progress)
    except (ToolsMissingError, DistillError, ModelError) as exc:
        raise _UserError(str(exc)) from None
    except ValueError as exc:  # bad labels, a video too short for the split, a teacher without road classes
        raise _UserError(str(exc)) from None
    if as_json:
        click.echo(json.dumps(record, separators=(",", ":"), default=str))
        return
    ev, t = record["eval"], record["targets"]
    click.echo(f"{out}: {record['params']['after_pruning']:,} params, INT8 {record['models']['int8']['mb']} MB")
    click.echo(f"  held-out mAP50: fp32 {ev['fp32']['map50']:.3f}, int8 {ev['int8']['map50']:.3f}, "
               f"ceiling {ev['ceiling_map50']:.3f}")
    click.echo(f"  ms/frame: int8 {ev['int8']['ms_per_frame']:.1f}, teacher {ev['teacher_ms_per_frame']:.1f}")
    for name, target in t.items():
        click.echo(f"  {name}: {target['value']} ({'met' if target['met'] else 'NOT met'})")
