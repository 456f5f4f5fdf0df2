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
# libFuzzer target for a bounded time, the lifecycle and hostile tests under TSan. Part of the
# default run, so of CI; SANITIZE_STAGES picks some ("asan fuzz tsan" by default, "none" skips
# them), FUZZ_SECONDS sets the time per fuzzer. Durations: SECURITY.md "Sanitizers and fuzzing".
if [ "${SANITIZE_STAGES:-asan fuzz tsan}" != none ]; then
  SANITIZE_STAGES=${SANITIZE_STAGES:-asan fuzz tsan} bash scripts/sanitize.sh
fi
