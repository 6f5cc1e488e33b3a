"""The atheris process of one target: ``python -m rsu.fuzz.worker TARGET [libFuzzer flags] [corpus dirs]``.

Run by :mod:`rsu.fuzz.runner` (libFuzzer owns the process and ends it with its own exit status).
"""

from __future__ import annotations

import importlib
import logging
import sys


def main(argv: list[str]) -> None:
    import atheris

    from rsu.fuzz.targets import get

    target = get(argv[1])
    logging.disable(logging.CRITICAL)  # rejections are logged as warnings; a fuzzer makes millions
    with atheris.instrument_imports(include=[m.split(".")[0] for m in target.modules]):
        for module in target.modules:
            try:
                importlib.import_module(module)
            except ImportError:
                pass
    target.run(b"")  # import whatever the target imports lazily, inside instrumentation scope above
    atheris.Setup([argv[0], *argv[2:]], target.run)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
