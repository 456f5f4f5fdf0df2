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
# The sanitizer and fuzzing stages (scripts/sanitize.sh): the suite under ASan+UBSan, each
# libFuzzer target for a bounded time, the lifecycle and hostile tests under TSan.
# SANITIZE_STAGES picks them (e.g. "asan fuzz tsan"; FUZZ_SECONDS sets the time per fuzzer).
# Not yet in the default run: the merged tree of 2026-12-06 has not had one complete ASan and
# TSan run (SECURITY.md "Sanitizers and fuzzing" says what has run and what it found); the
# default becomes "asan fuzz tsan" once one complete run is clean within CI's 90 minutes.
if [ "${SANITIZE_STAGES:-none}" != none ]; then
  bash scripts/sanitize.sh
fi
