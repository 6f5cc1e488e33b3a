"""Child process of the kill test: replay a recording through the Box and the embedded runner, checkpointing
often, appending every ObjectList to a JSON-lines file. Usage: python pipeline_kill_child.py REC OUT CKPT SPEED"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from rsu_sdk import ObjectList

from rsu.app.box import Box
from rsu.config import load_config
from rsu.pipeline.assemble import embedded_runner, operators_from_config
from rsu.sources.replay import ReplaySource


class FileSink:
    def __init__(self, path: Path) -> None:
        self.fh = open(path, "a", encoding="utf-8")

    def deliver(self, product: Any, origin: str = "") -> None:
        if isinstance(product, ObjectList):
            self.fh.write(json.dumps({"t": product.t_event_ns, "objects": [
                [o.track_id, *o.position_enu[:2]] for o in product.objects]}) + "\n")
            self.fh.flush()

    def stop_plugins(self) -> None:
        pass

    def close(self) -> None:
        self.fh.close()

    def stats(self) -> dict[str, Any]:
        return {}


def main() -> None:
    rec, out, ckpt, speed = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), float(sys.argv[4])
    cfg = load_config(rec / "config.yaml")
    cfg = cfg.model_copy(update={"pipeline": cfg.pipeline.model_copy(update={
        "checkpoint": cfg.pipeline.checkpoint.model_copy(update={"dir": ckpt, "interval_s": 0.2})})})
    runner = embedded_runner(cfg, operators_from_config(cfg))
    box = Box(sources=[ReplaySource("replay", rec, speed=speed)], sink=FileSink(out), inline_stages=[runner])
    box.run()
    print(json.dumps(runner.stats(), default=str))


if __name__ == "__main__":
    main()
