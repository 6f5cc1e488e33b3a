#!/usr/bin/env bash
# Fuzz every decoder and parser for N seconds each (default 30): bash scripts/fuzz-all.sh [SECONDS]
# Prints one line per target with the number of inputs tried; exits 1 if any target had a finding.
# Targets named in RSU_FUZZ_KNOWN (space-separated) still run and report, but their findings do not fail the
# script (for findings in code another change owns; see docs/fuzzing.md).
set -u
cd "$(dirname "$0")/.."
SECONDS_EACH="${1:-30}"
RSU="${RSU:-.venv/bin/rsu}"
[ -x "$RSU" ] || RSU=rsu
known=" ${RSU_FUZZ_KNOWN:-} "
failed=()
for target in $("$RSU" fuzz --list | awk '{print $1}'); do
  if "$RSU" fuzz "$target" --seconds "$SECONDS_EACH"; then
    continue
  elif [[ "$known" == *" $target "* ]]; then
    echo "fuzz $target: finding in RSU_FUZZ_KNOWN, not failing"
  else
    failed+=("$target")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz-all: findings in: ${failed[*]} (inputs saved under var/fuzz/<target>/)"
  exit 1
fi
echo "fuzz-all: no findings"
