"""``rsu model prune|export|quantize|info``: the detector toolchain (``prune``/``export`` need the tools extra)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click


def _progress(msg: str) -> None:
    click.echo(f"[rsu model] {msg}", err=True)


@contextmanager
def _tool_errors() -> Iterator[None]:
    """Turn missing extras and bad inputs into one clear error line (exit 1)."""
    from rsu.modeltools.env import ToolsMissingError

    try:
        yield
    except ToolsMissingError as exc:
        raise click.ClickException(str(exc)) from None
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None


def _emit(data: dict[str, Any], as_json: bool, human: Callable[[dict[str, Any]], None]) -> None:
    if as_json:
        click.echo(json.dumps(data, separators=(",", ":"), default=str))
    else:
        human(data)


def _calibration_sources(calib: tuple[str, ...]) -> list[str]:
    if calib:
        return list(calib)
    from rsu.modeltools.frames import bundled_images

    found = [str(p) for p in bundled_images()]
    if not found:
        raise click.ClickException("no calibration frames: pass --calib IMAGES_DIR|VIDEO (real frames from the site)")
    _progress(f"no --calib given: using the sample images {', '.join(Path(p).name for p in found)}")
    return found


@click.group("model")
def command() -> None:
    """Detector toolchain: prune, export to ONNX, quantize to static INT8, inspect.

    SOURCE is an ultralytics architecture (yolov5s.yaml, yolov5su.yaml: random weights, built offline) or a
    trained ultralytics .pt. prune and export need the tools extra: pip install 'rsu[tools]'.
    """


@command.command("prune")
@click.argument("source")
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False), help="Pruned checkpoint (.pt).")
@click.option("--ratio", default=0.6, show_default=True,
              help="Channel pruning ratio (0.6: about -76% params on YOLOv5s).")
@click.option("--imgsz", default=640, show_default=True, help="Example input size for tracing and MAC counts.")
@click.option("--round-to", default=8, show_default=True, help="Keep channel counts multiples of this.")
@click.option("--calib", multiple=True, type=click.Path(exists=True),
              help="Frames (images, folder, video) to re-estimate BatchNorm statistics after pruning.")
@click.option("--synthetic", is_flag=True,
              help="No trained weights: make the random network input-dependent first (demos, benchmarks).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def prune_cmd(source: str, out: str, ratio: float, imgsz: int, round_to: int, calib: tuple[str, ...],
              synthetic: bool, as_json: bool) -> None:
    """Structured channel pruning of SOURCE (Detect head kept whole); writes a reloadable .pt."""
    with _tool_errors():
        from rsu.modeltools.calibrate import make_synthetic, recalibrate_bn
        from rsu.modeltools.prune import PruneReport, load_model, prune_model, save_checkpoint

        t0 = time.perf_counter()
        _progress(f"loading {source}")
        yolo = load_model(source)
        batches = None
        if calib or synthetic:
            from rsu.inference.preprocess import InputSpec
            from rsu.modeltools.quantize import calibration_batches

            batches = calibration_batches(_calibration_sources(calib), InputSpec(size=(imgsz, imgsz)), limit=16)
        if synthetic:
            _progress("synthetic: BatchNorm statistics and class biases from the frames (not a trained model)")
            make_synthetic(yolo.model, batches)
        _progress(f"pruning: ratio {ratio}, round_to {round_to}, imgsz {imgsz}")
        p0, p1, m0, m1 = prune_model(yolo.model, ratio=ratio, imgsz=imgsz, round_to=round_to)
        if batches is not None:
            _progress(f"re-estimating BatchNorm statistics on {len(batches)} frames")
            recalibrate_bn(yolo.model, batches)
        report = PruneReport(source=source, ratio=ratio, imgsz=imgsz, params_before=p0, params_after=p1,
                             macs_before=m0, macs_after=m1)
        _progress(f"saving {out}")
        save_checkpoint(yolo.model, out, pruned=report.as_dict(), synthetic=synthetic)
        data = {**report.as_dict(), "output": out, "seconds": round(time.perf_counter() - t0, 2)}
    _emit(data, as_json, lambda d: click.echo(
        f"{d['output']}: params {d['params_before']:,} -> {d['params_after']:,} "
        f"(-{d['param_reduction']:.1%}), GMACs@{imgsz} {d['gmacs_before']} -> {d['gmacs_after']}"))


@command.command("export")
@click.argument("source")
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False), help="ONNX file to write.")
@click.option("--imgsz", default=640, show_default=True, help="Square input size.")
@click.option("--opset", type=int, default=None, help="ONNX opset (default: the exporter's best).")
@click.option("--no-simplify", is_flag=True, help="Skip onnxslim.")
@click.option("--dynamic", is_flag=True, help="Dynamic batch and image size axes.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def export_cmd(source: str, out: str, imgsz: int, opset: int | None, no_simplify: bool, dynamic: bool,
               as_json: bool) -> None:
    """Export SOURCE (.yaml or .pt) to ONNX with ultralytics' exporter."""
    with _tool_errors():
        from rsu.modeltools.export import export
        from rsu.modeltools.info import onnx_info

        t0 = time.perf_counter()
        path = export(source, out, imgsz=imgsz, opset=opset, simplify=not no_simplify, dynamic=dynamic,
                      progress=_progress)
        info = onnx_info(path)
        data = {"output": str(path), "seconds": round(time.perf_counter() - t0, 2),
                **{k: info[k] for k in ("opset", "params", "gflops", "size_mb", "inputs", "outputs", "decoder")}}
    _emit(data, as_json, lambda d: click.echo(
        f"{d['output']}: opset {d['opset']}, {d['params']:,} params, {d['gflops']} GFLOPs, {d['size_mb']} MB, "
        f"output {d['outputs'][0]['shape']} ({d['decoder']})"))


@command.command("quantize")
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False), help="INT8 ONNX file to write.")
@click.option("--calib", multiple=True, type=click.Path(exists=True),
              help="Calibration frames: images, a folder of images, or a video (repeatable). Use the site's own.")
@click.option("--frames", "limit", default=32, show_default=True, help="At most this many calibration frames.")
@click.option("--per-tensor", is_flag=True, help="Per-tensor weight scales (default: per channel).")
@click.option("--method", type=click.Choice(["minmax", "entropy", "percentile"]), default="minmax",
              show_default=True, help="Calibration method.")
@click.option("--whole-graph", is_flag=True, help="Also quantize the head's post-processing (kills YOLO scores).")
@click.option("--no-compare", is_flag=True, help="Skip the INT8 vs FP32 output comparison.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def quantize_cmd(model: str, out: str, calib: tuple[str, ...], limit: int, per_tensor: bool, method: str,
                 whole_graph: bool, no_compare: bool, as_json: bool) -> None:
    """Static INT8 (QDQ) quantization of MODEL (.onnx), calibrated on real frames; prints how scores moved."""
    with _tool_errors():
        from rsu.modeltools.quantize import quantize

        t0 = time.perf_counter()
        report = quantize(model, out, _calibration_sources(calib), limit=limit, per_channel=not per_tensor,
                          exclude_head=not whole_graph, method=method, compare=not no_compare, progress=_progress)
        data = {**report.as_dict(), "seconds": round(time.perf_counter() - t0, 2)}

    def human(d: dict[str, Any]) -> None:
        click.echo(f"{d['output']}: static INT8 QDQ, {d['qdq_nodes']} Q/DQ nodes, {d['excluded_nodes']} head nodes "
                   f"kept float, calibrated on {d['frames']} frames")
        c = d["comparison"]
        if c:
            click.echo(f"  scores moved: mean {c['score_mean_abs_diff']}, max {c['score_max_abs_diff']}, "
                       f"correlation {c['score_corr']}; boxes moved {c['box_mean_abs_diff_px']} px")
            click.echo(f"  detections FP32 {c['ref_detections']} / INT8 {c['new_detections']}; "
                       f"FP32 top-{c['top_k']} boxes kept by INT8: {c['top_kept']:.0%}")
            if c["ref_detections"] and not c["new_detections"]:
                click.echo("  WARNING: INT8 lost every detection; do not use this model", err=True)
        for note in d["notes"]:
            click.echo(f"  note: {note}")

    _emit(data, as_json, human)


@command.command("info")
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@click.option("--imgsz", default=640, show_default=True, help="Input size for .pt FLOPs.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def info_cmd(model: str, imgsz: int, as_json: bool) -> None:
    """Parameters, FLOPs, size, opset, inputs and outputs of MODEL (.onnx without torch; .pt with the tools extra)."""
    with _tool_errors():
        from rsu.modeltools.info import model_info

        data = model_info(model, imgsz)

    def human(d: dict[str, Any]) -> None:
        click.echo(f"{d['path']} ({d['format']}, {d['size_mb']} MB)")
        click.echo(f"  params   {d['params']:,}")
        click.echo(f"  GFLOPs   {d['gflops']}")
        if "opset" in d:
            click.echo(f"  opset    {d['opset']} (IR {d['ir_version']}, {d['producer']})")
            click.echo(f"  INT8     {'yes, ' + str(d['qdq_nodes']) + ' Q/DQ nodes' if d['quantized'] else 'no'}")
            click.echo(f"  decoder  {d['decoder'] or 'unknown'}")
        for key in ("inputs", "outputs"):
            for t in d.get(key, []):
                click.echo(f"  {key[:-1]:<8} {t['name']} {t['shape']} {t['dtype']}")

    _emit(data, as_json, human)


def _register_fault_training() -> None:
    from rsu.cli.model_fault import train_fault_cmd
    from rsu.cli.model_seal import keygen_cmd, seal_cmd, verify_cmd
    from rsu.cli.model_distill import distill_cmd

    command.add_command(train_fault_cmd)
    command.add_command(distill_cmd)  # rsu model distill: a site's own student detector
    for cmd in (keygen_cmd, seal_cmd, verify_cmd):  # sealed models: encrypted at rest, signed
        command.add_command(cmd)


_register_fault_training()
