#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs every test with ctest.
# Usage: scripts/test.sh [extra ctest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
BUILD_DIR=${BUILD_DIR:-build}
# Benchmarks are built and run on demand (bench/RESULTS*.md), not in the test suite.
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDANVAN_BUILD_BENCH="${DANVAN_BUILD_BENCH:-OFF}"
cmake --build "$BUILD_DIR" -j"${JOBS:-2}"
(cd "$BUILD_DIR" && ctest --output-on-failure --timeout 900 -j"${CTEST_JOBS:-2}" "$@")
# Then the same suite under AddressSanitizer + UBSan, the libFuzzer targets for a bounded time,
# and the concurrency tests under ThreadSanitizer (scripts/sanitize.sh). SANITIZE_STAGES=none
# skips them (e.g. when iterating on one test with extra ctest arguments).
if [ "${SANITIZE_STAGES:-all}" != none ]; then
  if [ "${SANITIZE_STAGES:-all}" = all ]; then unset SANITIZE_STAGES; fi
  bash scripts/sanitize.sh
fi
