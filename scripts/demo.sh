#!/usr/bin/env bash
# Install rsu into .venv, fetch the pinned sample assets, and run the demo site for a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. scripts/install.sh
.venv/bin/rsu assets fetch
exec .venv/bin/rsu run configs/demo.yaml --for "${RSU_DEMO_SECONDS:-60}" --summary var/demo-summary.json "$@"
