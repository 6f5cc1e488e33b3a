"""``rsu federate serve|push|status|demo``: federated averaging of the fault model."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from pathlib import Path

import click

_SERVER_KEY = click.option("--server-key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                           default=None, help="The aggregator's public key file (server.key), when it runs CURVE.")
_CLIENT_KEY = click.option("--client-key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                           default=None, help="This box's secret key file (NAME.key_secret), authorised there.")


def _curve(server_key: Path | None, client_key: Path | None):  # noqa: ANN202
    if (server_key is None) != (client_key is None):
        raise click.UsageError("--server-key and --client-key go together")
    if server_key is None:
        return None
    from rsu.config.publish import ClientCurveConfig

    return ClientCurveConfig(server_key=server_key, client_key=client_key)


def _load(config: Path):  # noqa: ANN202
    from rsu.cli.common import load_config_or_exit

    return load_config_or_exit(config, "rsu federate")


@click.group("federate")
def command() -> None:
    """Federated averaging of the fault LSTM: boxes send weight updates (never data), the aggregator averages
    them by sample count (FedAvg) into versioned global models that boxes hot-swap."""


@command.command("serve")
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--runner", type=click.Choice(["embedded", "flink"]), default="embedded", show_default=True,
              help="Aggregate in process, or as a Flink job over the update stream (the same operator).")
@click.option("--for", "for_seconds", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Stop after this many seconds (default: until Ctrl-C / SIGTERM).")
def serve_cmd(config: Path, runner: str, for_seconds: float | None) -> None:
    """Run the aggregator of CONFIG's ``federated.aggregator`` section; print JSON stats on exit."""
    from rsu.config.federated import FederatedConfig
    from rsu.federated.admission import AdmissionPolicy
    from rsu.federated.server import AggregatorServer
    from rsu.federated.store import ModelStore, registered_model_path

    cfg = _load(config)
    ac = (cfg.federated or FederatedConfig()).aggregator
    try:
        template = Path(ac.template) if ac.template else registered_model_path(ac.model)
        store = ModelStore(Path(ac.store), ac.model, template)
        policy = AdmissionPolicy(aggregate=ac.aggregate, trim=ac.trim, max_samples=ac.max_samples,
                                 max_distance=ac.max_distance, max_update_bytes=ac.max_update_bytes)
        server = AggregatorServer(store, ac.bind, min_updates=ac.min_updates, max_staleness=ac.max_staleness,
                                  runner=runner, pipeline_cfg=cfg.pipeline, policy=policy, curve=ac.curve,
                                  checkpoint_dir=Path(cfg.pipeline.checkpoint.dir) / "federated")
    except Exception as exc:  # noqa: BLE001 - one clear line: bad template, port in use, flink missing
        click.echo(f"rsu federate serve: cannot start: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    end = None if for_seconds is None else time.monotonic() + for_seconds
    click.echo(f"rsu federate: aggregating {ac.model} on {server.endpoint} ({runner}, {ac.aggregate}, CURVE "
               f"{'on' if ac.curve else 'off: loopback only'}), version {store.latest_version()} in {store.dir}",
               err=True)
    try:
        server.serve(lambda: stop.is_set() or (end is not None and time.monotonic() >= end))
    finally:
        server.close()
    click.echo(json.dumps(server.stats(), separators=(",", ":"), default=str))


@command.command("push")
@click.argument("recording", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--endpoint", required=True, help="The aggregator, e.g. tcp://aggregator:5580.")
@click.option("--box", "box_id", required=True, help="This box's id.")
@click.option("--model", default="fault-lstm", show_default=True)
@click.option("--steps", type=int, default=60, show_default=True, help="Fine-tuning steps.")
@click.option("--seed", type=int, default=0, show_default=True)
@_SERVER_KEY
@_CLIENT_KEY
def push_cmd(recording: Path, endpoint: str, box_id: str, model: str, steps: int, seed: int,
             server_key: Path | None, client_key: Path | None) -> None:
    """Fine-tune the latest global model on RECORDING (``rsu simulate furnace --out``) and send the update.
    Needs the tools extra (torch)."""
    from rsu.federated.client import FederatedClient, FederationError
    from rsu.fedsim.data import recording_data
    from rsu.federated.messages import ModelUpdate
    from rsu.federated.store import registered_model_path
    from rsu.fedsim.train import FineTune, fine_tune
    from rsu.federated.weights import read_weights

    meta = json.loads(registered_model_path(model).with_suffix(".json").read_text(encoding="utf-8"))
    client = FederatedClient(endpoint, timeout_s=30.0, curve=_curve(server_key, client_key))
    try:
        data = recording_data(recording, meta)
        info, onnx_bytes = client.latest(model)
        assert onnx_bytes is not None
        new, metrics = fine_tune(read_weights(onnx_bytes), data, FineTune(steps=steps, seed=seed))
        reply = client.send_update(ModelUpdate(source=box_id, t_event_ns=time.time_ns(), model=model,
                                               base_version=int(info["version"]), samples=int(data.target.size),
                                               weights=new, metrics=metrics))
    except (FederationError, ValueError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        client.close()
    click.echo(json.dumps({"box": box_id, "base_version": info["version"], **metrics, "reply": reply},
                          separators=(",", ":")))


@command.command("status")
@click.option("--endpoint", required=True)
@click.option("--model", default="fault-lstm", show_default=True)
@_SERVER_KEY
@_CLIENT_KEY
def status_cmd(endpoint: str, model: str, server_key: Path | None, client_key: Path | None) -> None:
    """The aggregator's latest version of MODEL (JSON)."""
    from rsu.federated.client import FederatedClient, FederationError

    client = FederatedClient(endpoint, curve=_curve(server_key, client_key))
    try:
        info, _ = client.latest(model, have=2**62)
    except FederationError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        client.close()
    click.echo(json.dumps(info, separators=(",", ":")))


@command.command("demo")
@click.option("--rounds", type=int, default=6, show_default=True)
@click.option("--steps", type=int, default=30, show_default=True, help="Fine-tuning steps per box and round.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--work", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the store (default: a temporary one).")
def demo_cmd(rounds: int, steps: int, seed: int, work: Path | None) -> None:
    """Three simulated boxes (one fault kind each) federate over loopback; print global vs local scores on the
    union of all kinds (JSON). Needs the tools extra (torch)."""
    import tempfile

    from rsu.fedsim.experiment import three_box_experiment

    if work is not None:
        result = three_box_experiment(work, rounds=rounds, steps=steps, seed=seed)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            result = three_box_experiment(Path(tmp), rounds=rounds, steps=steps, seed=seed)
    click.echo(json.dumps(result, indent=2, default=str))
