"""Three simulated boxes, each seeing one kind of furnace fault, federate the fault LSTM through a real
aggregator on loopback; the global model is scored against each box's purely local model on the union of all
kinds (held-out simulator seeds). Needs the ``tools`` extra (torch). ``rsu federate demo`` runs it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from rsu.federated.client import FederatedClient
from rsu.fedsim.data import simulated_box_data
from rsu.fedsim.evaluate import eval_rows, score_weights
from rsu.federated.messages import ModelUpdate
from rsu.federated.server import AggregatorServer
from rsu.federated.store import ModelStore, registered_model_path
from rsu.fedsim.train import FineTune, fine_tune
from rsu.federated.weights import from_torch_lstm, read_weights, write_weights

__all__ = ["BOXES", "three_box_experiment", "initial_template"]

MODEL = "fault-lstm"
BOXES = (("box-hanging", ("hanging",), (201, 202)),
         ("box-tuyere", ("tuyere_damage",), (211, 212)),
         ("box-cooling", ("cooling_failure",), (221, 222)))
TEST_SEEDS = (901, 902)


def initial_template(shipped: Path, out: Path, seed: int) -> Path:
    """The shipped model's graph with freshly initialised weights (torch's default init, seeded): round 0."""
    import torch

    from rsu.modeltools.fault_train import _build_model

    torch.manual_seed(seed)
    hidden = int(read_weights(shipped)["lstm.R"].shape[-1])
    out.write_bytes(write_weights(shipped, from_torch_lstm(_build_model(torch, hidden).state_dict())))
    return out


def three_box_experiment(work: Path, *, rounds: int = 6, steps: int = 30, seed: int = 0, seconds: float = 28_800.0,
                         eval_windows: int = 3000) -> dict[str, Any]:
    """Run the federation and the local-only baselines (same number of steps per box); return the scores."""
    t0 = time.perf_counter()
    work.mkdir(parents=True, exist_ok=True)
    shipped = registered_model_path(MODEL)
    meta = json.loads(shipped.with_suffix(".json").read_text(encoding="utf-8"))
    template = initial_template(shipped, work / "round0.onnx", seed)
    data = {box: simulated_box_data(seeds, meta, kinds=kinds, seconds=seconds) for box, kinds, seeds in BOXES}
    test = simulated_box_data(TEST_SEEDS, meta, seconds=seconds)
    rows = eval_rows(test, eval_windows, seed)
    store = ModelStore(work / "store", MODEL, template)
    server = AggregatorServer(store, "tcp://127.0.0.1:*", min_updates=len(BOXES)).start()
    clients = {box: FederatedClient(server.endpoint, timeout_s=30.0) for box, _, _ in BOXES}
    try:
        for r in range(rounds):
            for i, (box, _, _) in enumerate(BOXES):
                info, onnx_bytes = clients[box].latest(MODEL)
                assert onnx_bytes is not None
                new, metrics = fine_tune(read_weights(onnx_bytes), data[box],
                                         FineTune(steps=steps, seed=seed + 1000 * r + i))
                clients[box].send_update(ModelUpdate(source=box, t_event_ns=time.time_ns(), model=MODEL,
                                                     base_version=int(info["version"]),
                                                     samples=int(data[box].target.size), weights=new,
                                                     metrics=metrics))
        final = clients[BOXES[0][0]].latest(MODEL)[0]
    finally:
        for c in clients.values():
            c.close()
        server.close()
    global_w = read_weights(store.get().path)
    init = read_weights(template)
    local_w = {box: fine_tune(init, data[box], FineTune(steps=rounds * steps, seed=seed + 7 + i))[0]
               for i, (box, _, _) in enumerate(BOXES)}
    return {
        "union_test": {"seeds": list(TEST_SEEDS), "windows": int(len(rows)),
                       "fault_windows": int((test.target[rows] > 0.5).sum())},
        "global": {"version": final["version"], **score_weights(template, global_w, test, rows)},
        "local": {box: {"kinds": list(kinds), "samples": int(data[box].target.size),
                        **score_weights(template, local_w[box], test, rows)} for box, kinds, _ in BOXES},
        "rounds": rounds, "steps_per_round": steps, "versions": store.versions(),
        "server": server.stats(), "seconds": round(time.perf_counter() - t0, 1),
    }
