#!/usr/bin/env bash
# Install rsu into .venv, fetch the pinned sample assets, simulate the demo site's recorded inputs (once),
# and run the demo site for a minute (RSU_DEMO_SECONDS to change). Extra arguments go to `rsu run`.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. scripts/install.sh
rsu=.venv/bin/rsu
$rsu assets fetch
[ -d var/demo/intersection ] || $rsu simulate intersection --out var/demo/intersection --seconds 120 --seed 0
[ -d var/demo/furnace ] || $rsu simulate furnace --out var/demo/furnace --seconds 3600 --seed 7
[ -d var/demo/air-station ] || $rsu simulate air-station --out var/demo/air-station --seconds 1800 --seed 3
exec $rsu run configs/demo.yaml --for "${RSU_DEMO_SECONDS:-60}" --summary var/demo-summary.json "$@"
