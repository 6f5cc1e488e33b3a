#!/usr/bin/env bash
# Install everything the tests need, fetch the pinned sample assets, and run the whole test suite:
#   1. .venv with the dev, tools (torch, ultralytics) and litert extras: every test but the Flink ones;
#   2. .venv-flink with the flink extra (apache-flink pins numpy<2.2, so it gets its own venv): the Flink tests.
# RSU_TEST_FLINK=0 skips step 2. Extra arguments go to the first pytest run.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. scripts/install.sh dev,tools,litert
.venv/bin/rsu assets fetch
.venv/bin/python -m pytest -q "$@"
if [ "${RSU_TEST_FLINK:-1}" != "0" ]; then
  python3 -m venv .venv-flink
  echo "installing apache-flink into .venv-flink"
  .venv-flink/bin/python -m pip install -q --disable-pip-version-check "apache-flink==2.3.0"
  .venv-flink/bin/python -m pip freeze | grep -iE '^(numpy|protobuf|grpcio|pyarrow|pemja)==' > var/flink-pins.txt
  . scripts/install.sh flink .venv-flink var/flink-pins.txt   # not "dev": river there needs numpy >= 2.2
  .venv-flink/bin/python -m pip install -q --disable-pip-version-check -c var/flink-pins.txt "pytest>=8"
  .venv-flink/bin/python -m pytest -q -m flink tests/test_flink_runner.py tests/test_federated_flink.py
fi
