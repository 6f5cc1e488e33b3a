#!/usr/bin/env bash
# Install everything the tests need into .venv, fetch the pinned sample assets, run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. scripts/install.sh dev
.venv/bin/rsu assets fetch
.venv/bin/python -m pytest -q "$@"
