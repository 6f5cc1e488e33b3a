#!/usr/bin/env bash
# Install everything the tests need, fetch the pinned assets, and run every test part; each part runs even when
# an earlier one failed, and the last line sums them up ("tests: N passed, N failed, N skipped").
#   1. .venv with the dev, tools (torch, ultralytics) and litert extras: every test but the Flink ones;
#   2. .venv-flink with the flink extra (apache-flink pins numpy<2.2, so it gets its own venv): the Flink tests;
#   3. every fuzz target for RSU_FUZZ_SECONDS seconds (default 30; 0 skips).
# RSU_TEST_FLINK=0 skips part 2 (and says so). Extra arguments go to the first pytest run.
# Disk: about 8 GB (.venv 6.5 GB, .venv-flink 1.4 GB, assets and Kafka jars 0.2 GB); time on 2 cores: about
# 9 + 4 minutes of set-up with cold pip/npm/Maven caches (1-2 minutes warm), then the tests (see README.md).
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p var/test-reports
rm -f var/test-reports/*.xml
setup() {
  python3 -m venv .venv || return 1
  . scripts/install.sh dev,tools,litert || return 1
  .venv/bin/rsu assets fetch || return 1
  .venv/bin/rsu kafka fetch || return 1   # the broker jars (Maven Central, pinned and checksummed)
  .venv/bin/rsu flink fetch || return 1   # the Flink Kafka connector jar (pinned and checksummed)
}
if ! (set -e; setup); then
  echo "test.sh: set-up failed (see above); no test ran" >&2
  exit 1
fi
# The official ETSI ASN.1 beside the checkout: when it is there, its cross-checks must run, not skip.
if [ -d ../shared/asn1 ]; then
  export RSU_REQUIRE_OFFICIAL_ASN1=1
else
  echo "test.sh: no ../shared/asn1 beside the checkout: the cross-checks with the official ETSI modules will skip"
fi
main=0
.venv/bin/python -m pytest -q --junitxml=var/test-reports/main.xml "$@" || main=$?

flink=skipped
if [ "${RSU_TEST_FLINK:-1}" != "0" ]; then
  flink=0
  flink_setup() {
    python3 -m venv .venv-flink || return 1
    echo "installing apache-flink into .venv-flink"
    .venv-flink/bin/python -m pip install -q --disable-pip-version-check "apache-flink==2.3.0" || return 1
    .venv-flink/bin/python -m pip freeze | grep -iE '^(numpy|protobuf|grpcio|pyarrow|pemja)==' > var/flink-pins.txt
    . scripts/install.sh flink .venv-flink var/flink-pins.txt || return 1  # not "dev": river needs numpy >= 2.2
    .venv-flink/bin/python -m pip install -q --disable-pip-version-check -c var/flink-pins.txt "pytest>=8"
  }
  if (set -e; flink_setup); then
    .venv-flink/bin/python -m pytest -q -m flink --junitxml=var/test-reports/flink.xml \
      tests/test_flink_runner.py tests/test_federated_flink.py tests/test_flink_kafka.py || flink=$?
  else
    echo "test.sh: the Flink venv could not be set up" >&2
    flink=1
  fi
else
  echo "test.sh: SKIPPED the Flink tests (RSU_TEST_FLINK=0): tests/test_flink_runner.py, tests/test_federated_flink.py, tests/test_flink_kafka.py"
fi

fuzz=skipped
if [ "${RSU_FUZZ_SECONDS:-30}" != "0" ]; then
  fuzz=0
  RSU=.venv/bin/rsu bash scripts/fuzz-all.sh "${RSU_FUZZ_SECONDS:-30}" || fuzz=$?
else
  echo "test.sh: SKIPPED the fuzz targets (RSU_FUZZ_SECONDS=0)"
fi

echo "test.sh: main suite exit $main, Flink suite: $flink, fuzzing: $fuzz"
.venv/bin/python - <<'PY'
import glob
import xml.etree.ElementTree as ET

total = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
for path in glob.glob("var/test-reports/*.xml"):
    root = ET.parse(path).getroot()
    for suite in (root.iter("testsuite")):
        for key in total:
            total[key] += int(suite.get(key, 0))
failed = total["failures"] + total["errors"]
passed = total["tests"] - failed - total["skipped"]
print(f"tests: {passed} passed, {failed} failed, {total['skipped']} skipped")
PY
[ "$main" = 0 ] && { [ "$flink" = 0 ] || [ "$flink" = skipped ]; } && { [ "$fuzz" = 0 ] || [ "$fuzz" = skipped ]; }
