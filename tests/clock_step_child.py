"""A box whose whole process sees a wall clock that the parent steps (not a test module).

``time.time_ns`` / ``time.time`` are replaced before anything of rsu is imported, so every part of the box
(the sources' default clocks included) reads the stepped clock, as after a step of the system clock;
``time.monotonic`` stays the real one. stdin takes one JSON command per line: ``{"step": SECONDS}``,
``{"stats": true}``, ``{"stop": true}``; stdout answers one JSON line each (first: the bus endpoint).
"""

from __future__ import annotations

import json
import sys
import time

_real_ns = time.time_ns
_offset = [0]
time.time_ns = lambda: _real_ns() + _offset[0]
time.time = lambda: time.time_ns() / 1e9


def main() -> None:
    from pathlib import Path

    from rsu.app.build import build_box
    from rsu.config import parse_config

    _offset[0] = int(float(sys.argv[3]) * 1e9)
    built = build_box(parse_config(json.loads(Path(sys.argv[1]).read_text())), base_dir=Path(sys.argv[2]))
    built.box.start()
    print(json.dumps({"endpoint": built.endpoint}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        if "step" in cmd:
            _offset[0] += int(cmd["step"] * 1e9)
            print(json.dumps({"offset_s": _offset[0] / 1e9}), flush=True)
        elif cmd.get("stats"):
            runner = built.box.inline_stages[-1].stats()
            print(json.dumps({"runner": {k: v for k, v in runner.items() if k != "operators"},
                              "box": built.box.stats.summary(),
                              "publisher": built.box.sink.publisher.stats()}, default=str), flush=True)
        elif cmd.get("stop"):
            break
    built.box.stop()
    print(json.dumps({"stopped": True}), flush=True)


if __name__ == "__main__":
    main()
