#!/usr/bin/env bash
# The sanitizer and fuzzing stages of the test suite (called by scripts/test.sh after the plain
# suite; SECURITY.md lists what they cover):
#   1. clang, AddressSanitizer + UndefinedBehaviorSanitizer + libFuzzer coverage: the whole
#      ctest suite except the valgrind runs, then every libFuzzer target in tests/fuzz for
#      FUZZ_SECONDS each from its seed corpus (a crash, leak, timeout or sanitizer report fails);
#   2. clang, ThreadSanitizer: the tests labelled "lifecycle" or "hostile" (start/stop/close
#      races with a hung portal, concurrent submit/query from many threads).
# Knobs: FUZZ_SECONDS (default 60), SANITIZE_STAGES ("asan fuzz tsan" by default), JOBS.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
JOBS=${JOBS:-2}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
STAGES=${SANITIZE_STAGES:-asan fuzz tsan}
export CC=clang CXX=clang++
# halt_on_error: a UBSan report fails the test instead of scrolling by.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$ROOT/tests/fuzz/lsan.supp}

has_stage() { [[ " $STAGES " == *" $1 "* ]]; }

if has_stage asan || has_stage fuzz; then
  B=${ASAN_BUILD_DIR:-build-asan}
  cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDANVAN_BUILD_BENCH=OFF \
        -DDANVAN_SANITIZE=address -DDANVAN_FUZZ=ON
  cmake --build "$B" -j"$JOBS"
  if has_stage asan; then
    echo "== ASan+UBSan: whole suite (valgrind runs excluded: valgrind and ASan do not mix)"
    (cd "$B" && ctest --output-on-failure --timeout 1200 -j"${CTEST_JOBS:-2}" -LE valgrind)
  fi
  if has_stage fuzz; then
    for target in fuzz_abi fuzz_config fuzz_text fuzz_datafiles fuzz_portal; do
      work="$B/fuzz-work/$target"
      rm -rf "$work"; mkdir -p "$work/corpus" "$work/artifacts"
      cp "$ROOT/tests/fuzz/corpus/$target/"* "$work/corpus/"
      echo "== libFuzzer: $target for ${FUZZ_SECONDS}s"
      (cd "$work" && "$ROOT/$B/tests/fuzz/$target" -max_total_time="$FUZZ_SECONDS" \
          -timeout=20 -rss_limit_mb=3072 -max_len=131072 -print_final_stats=1 \
          -artifact_prefix="$work/artifacts/" corpus 2>&1 | tail -25)
      status=${PIPESTATUS[0]}
      if [ -n "$(ls -A "$work/artifacts")" ] || [ "$status" != 0 ]; then
        echo "libFuzzer found a problem in $target: $(ls "$work/artifacts")" >&2
        exit 1
      fi
    done
  fi
fi

if has_stage tsan; then
  B=${TSAN_BUILD_DIR:-build-tsan}
  cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDANVAN_BUILD_BENCH=OFF \
        -DDANVAN_SANITIZE=thread
  # Only the executables that hold those tests (keep in step with their LABELS in tests/): a
  # full TSan build would not fit CI's time.
  TSAN_TARGETS=${TSAN_TARGETS:-lifecycle_test hostile_test}
  echo "== ThreadSanitizer: $TSAN_TARGETS"
  cmake --build "$B" -j"$JOBS" --target $TSAN_TARGETS
  (cd "$B" && ctest --output-on-failure --timeout 1200 -j1 -L "lifecycle|hostile")
fi
