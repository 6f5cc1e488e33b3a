"""Child process of the fault kill test: replay a furnace recording through the Box and the embedded runner
running the fault LSTM operator, checkpointing often, appending every Prediction to a JSON-lines file.
Usage: python fault_kill_child.py RECORDING OUT CKPT SPEED"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from rsu_sdk import Prediction

from rsu.app.box import Box
from rsu.config import parse_config
from rsu.pipeline.assemble import embedded_runner
from rsu.pipeline.fault_op import FaultWindowOperator
from rsu.plugins.manager import create_plugin_manager
from rsu.plugins.registry import collect_models
from rsu.sources.sensor_replay import SensorReplaySource


class FileSink:
    def __init__(self, path: Path) -> None:
        self.fh = open(path, "a", encoding="utf-8")

    def deliver(self, product: Any, origin: str = "") -> None:
        if isinstance(product, Prediction):
            self.fh.write(json.dumps({"d": product.device, "t": product.t_event_ns, "s": product.score}) + "\n")
            self.fh.flush()

    def stop_plugins(self) -> None:
        pass

    def close(self) -> None:
        self.fh.close()

    def stats(self) -> dict[str, Any]:
        return {}


def main() -> None:
    rec, out, ckpt, speed = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), float(sys.argv[4])
    cfg = parse_config({"site": {"name": "plant", "lat": 0, "lon": 0},
                        "pipeline": {"checkpoint": {"dir": str(ckpt), "interval_s": 0.2}}})
    loaded = create_plugin_manager(["furnace_fault"])
    loaded.require_enabled()
    op = FaultWindowOperator(collect_models(loaded.pm)["fault-lstm"])
    runner = embedded_runner(cfg, [op])
    box = Box(sources=[SensorReplaySource("furnaces", rec, speed=speed)], sink=FileSink(out), inline_stages=[runner])
    box.run()
    print(json.dumps(runner.stats(), default=str))


if __name__ == "__main__":
    main()
