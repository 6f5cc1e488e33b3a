"""``rsu model train-fault``: train the furnace fault LSTM on simulator data (the tools extra: torch)."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("train-fault")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for fault_lstm.onnx, fault_lstm_int8.onnx and fault_lstm.json (created).")
@click.option("--seed", type=int, default=7, show_default=True, help="Training seed (weights init, sampling).")
@click.option("--data-seeds", default="101,102,103,104", show_default=True,
              help="Comma-separated simulator seeds of the training data (evaluate on others).")
@click.option("--seconds", type=float, default=43_200.0, show_default=True, help="Simulated seconds per data seed.")
@click.option("--devices", type=int, default=3, show_default=True, help="Furnaces per data seed.")
@click.option("--window", type=int, default=60, show_default=True, help="Samples per window.")
@click.option("--epochs", type=int, default=25, show_default=True)
@click.option("--steps", "steps_per_epoch", type=int, default=100, show_default=True, help="Batches per epoch.")
@click.option("--json", "as_json", is_flag=True, help="Print the metadata as one JSON object.")
def train_fault_cmd(out: Path, seed: int, data_seeds: str, seconds: float, devices: int, window: int, epochs: int,
                    steps_per_epoch: int, as_json: bool) -> None:
    """Train the fault LSTM (10 inputs, 32 hidden, 1 output) deterministically from --seed; export ONNX
    (FP32 and static INT8 QDQ) and the metadata the furnace_fault plugin ships."""
    try:
        seeds = tuple(int(s) for s in data_seeds.split(",") if s.strip())
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {data_seeds!r}",
                                 param_hint="--data-seeds") from None
    if not seeds:
        raise click.BadParameter("give at least one seed", param_hint="--data-seeds")
    try:
        import torch  # noqa: F401
    except ImportError:
        raise click.ClickException("train-fault needs torch: pip install 'rsu[tools]'") from None
    from rsu.modeltools.fault_data import DataSettings
    from rsu.modeltools.fault_train import TrainSettings, train_fault_model

    settings = TrainSettings(seed=seed, epochs=epochs, steps_per_epoch=steps_per_epoch,
                             data=DataSettings(data_seeds=seeds, seconds=seconds, devices=devices, window=window))
    click.echo(f"[rsu model] training the fault LSTM (seed {seed}, data seeds {list(seeds)}) ...", err=True)
    meta = train_fault_model(out, settings)
    if as_json:
        click.echo(json.dumps(meta, separators=(",", ":")))
        return
    check = meta["int8_vs_fp32"]
    click.echo(f"wrote {out / meta['files']['fp32']} ({check['fp32_bytes']} B), {out / meta['files']['int8']} "
               f"({check['int8_bytes']} B), {out / 'fault_lstm.json'}")
    click.echo(f"  loss per epoch: {meta['training']['loss_per_epoch']}")
    click.echo(f"  INT8 vs FP32 on {check['windows']} windows: max |diff| {check['max_abs_diff']}, "
               f"decision agreement {check['decision_agreement']}, quantized ops {check.get('quantized_ops')}")
