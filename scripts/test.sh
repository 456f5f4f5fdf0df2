#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs every test with ctest.
# Usage: scripts/test.sh [extra ctest args]
set -euo pipefail
cd "$(dirname "$0")/.."
# When the run started: the fuzzing stage fits itself into what is left of CI's time.
export DANVAN_CI_START=${DANVAN_CI_START:-$(date +%s)}
bash scripts/install-deps.sh
BUILD_DIR=${BUILD_DIR:-build}
# Benchmarks are built and run on demand (bench/RESULTS*.md), not in the test suite.
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDANVAN_BUILD_BENCH="${DANVAN_BUILD_BENCH:-OFF}"
cmake --build "$BUILD_DIR" -j"${JOBS:-2}"
(cd "$BUILD_DIR" && ctest --output-on-failure --timeout 900 -j"${CTEST_JOBS:-2}" "$@")
# The sanitizer and fuzzing stages (scripts/sanitize.sh), part of the default run and so of CI:
# the suite under ASan+UBSan, the lifecycle and hostile tests under TSan, then each libFuzzer
# target for what is left of the time budget. SANITIZE_STAGES picks them ("none" skips them for a
# quick local run; FUZZ_SECONDS caps the time per fuzzer). Measured on 2026-12-06 (SECURITY.md):
# about 40 minutes on 2 cores after the plain suite's 14, inside CI's 90.
# A run narrowed with ctest arguments (scripts/test.sh -R outbox) is a quick local check: it skips
# them unless SANITIZE_STAGES asks.
if [ $# -gt 0 ]; then default_stages=none; else default_stages="asan tsan fuzz"; fi
export SANITIZE_STAGES=${SANITIZE_STAGES:-$default_stages}
if [ "$SANITIZE_STAGES" != none ]; then
  bash scripts/sanitize.sh
fi
