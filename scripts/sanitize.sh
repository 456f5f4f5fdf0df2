#!/usr/bin/env bash
# The sanitizer and fuzzing stages of the test suite, run by scripts/test.sh after the plain
# suite (and so by .ci/run); SECURITY.md "Sanitizers and fuzzing" lists what they cover and how
# long each takes.
#   asan  clang, AddressSanitizer + UndefinedBehaviorSanitizer (fatal): the whole ctest suite,
#         except the tests that cannot run an instrumented library (below);
#   tsan  clang, ThreadSanitizer: the tests labelled "lifecycle" or "hostile" (start/stop/close
#         races with a hung portal, concurrent submit/query from many threads);
#   fuzz  last: every libFuzzer target in tests/fuzz for FUZZ_SECONDS each at most, less when CI's
#         time budget is short (below), from its seed corpus (same build as asan: a crash, leak,
#         timeout, sanitizer report or a failed check fails).
# Knobs: SANITIZE_STAGES ("asan fuzz tsan"; "none" skips), FUZZ_SECONDS (90), FUZZ_MIN_SECONDS
# (15), DANVAN_CI_START (epoch seconds, set by scripts/test.sh) and DANVAN_CI_BUDGET_S (4800),
# JOBS (2), CTEST_JOBS (2), ASAN_BUILD_DIR, TSAN_BUILD_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
JOBS=${JOBS:-2}
FUZZ_SECONDS=${FUZZ_SECONDS:-90}
STAGES=${SANITIZE_STAGES:-asan fuzz tsan}  # when called directly
export CC=clang CXX=clang++
# detect_stack_use_after_return stays off: it multiplies the stack of every frame and the
# hostile suite runs the plugin on 1 MiB threads on purpose.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=0}
# halt_on_error: a UBSan report fails the test instead of scrolling by.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$ROOT/tests/fuzz/lsan.supp}
# -O1 and line tables only: sanitizer builds compile about twice as fast as RelWithDebInfo's
# "-O2 -g", and a report still names file and line (ASan's recommended setting).
SAN_FLAGS="-O1 -gline-tables-only -DNDEBUG"

has_stage() { [[ " $STAGES " == *" $1 "* ]]; }
stamp() { date +%s; }
took() { echo "== $1 took $(( $(stamp) - $2 )) s"; }

ASAN_B=${ASAN_BUILD_DIR:-build-asan}
if has_stage asan || has_stage fuzz; then
  B=$ASAN_B
  t0=$(stamp)
  fuzz=OFF
  has_stage fuzz && fuzz=ON
  cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDANVAN_BUILD_BENCH=OFF \
        -DCMAKE_C_FLAGS_RELWITHDEBINFO="$SAN_FLAGS" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$SAN_FLAGS" \
        -DDANVAN_SANITIZE=address -DDANVAN_FUZZ=$fuzz
  if has_stage asan; then
    cmake --build "$B" -j"$JOBS"
  else
    cmake --build "$B" -j"$JOBS" --target fuzz_abi fuzz_config fuzz_text fuzz_datafiles fuzz_portal
  fi
  took "ASan+UBSan build" "$t0"
  if has_stage asan; then
    t0=$(stamp)
    echo "== ASan+UBSan: whole suite"
    # Not under ASan, with the reason:
    #  - valgrind (abi.c_host_valgrind): valgrind cannot run an ASan binary (both replace malloc
    #    and reserve the shadow memory); the same C host runs instrumented as abi.c_host;
    #  - kits (kits.installed, kits.deb): they load the installed libdanvan.so into Python, a JVM
    #    and the system's C++ compiler output, none of which is linked with the ASan runtime
    #    (ASan must be the first library loaded; LD_PRELOAD into a JVM is not something CI can
    #    trust); they test packaging, and the plain suite runs them.
    # The export crash test kills 110 instrumented children by default; each start of an ASan
    # child costs seconds, so 30 kills here (still early, mid-export and late ones; the plain
    # suite runs all 110) keep it within its 420 s.
    (cd "$B" && DANVAN_CRASH_EXPORT_KILLS=${DANVAN_CRASH_EXPORT_KILLS:-30} \
        ctest --output-on-failure --timeout 1200 -j"${CTEST_JOBS:-2}" -LE "valgrind|kits|postgres")
    took "ASan+UBSan suite" "$t0"
  fi
fi

if has_stage tsan; then
  B=${TSAN_BUILD_DIR:-build-tsan}
  t0=$(stamp)
  cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDANVAN_BUILD_BENCH=OFF \
        -DCMAKE_C_FLAGS_RELWITHDEBINFO="$SAN_FLAGS" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$SAN_FLAGS" \
        -DDANVAN_SANITIZE=thread
  # Only the executables that hold those tests (keep in step with their LABELS in tests/): a
  # full TSan build would not fit CI's time.
  TSAN_TARGETS=${TSAN_TARGETS:-lifecycle_test hostile_test}
  cmake --build "$B" -j"$JOBS" --target $TSAN_TARGETS
  took "TSan build ($TSAN_TARGETS)" "$t0"
  t0=$(stamp)
  echo "== ThreadSanitizer: tests labelled lifecycle or hostile"
  (cd "$B" && ctest --output-on-failure --timeout 1200 -j1 -L "lifecycle|hostile")
  took "TSan tests" "$t0"
fi

if has_stage fuzz; then
  BA=$(cd "$ASAN_B" && pwd)
  FUZZ_TARGETS="fuzz_abi fuzz_config fuzz_text fuzz_datafiles fuzz_portal"
  n_targets=$(wc -w <<< "$FUZZ_TARGETS")
  # Fuzzing runs last and takes what is left of CI's budget: FUZZ_SECONDS per target at most,
  # FUZZ_MIN_SECONDS at least (a shorter run still replays the whole seed corpus), and never
  # past DANVAN_CI_BUDGET_S seconds from the start of scripts/test.sh (CI stops at 90 minutes;
  # the default 4,800 s keeps 20 minutes in hand for a slower machine).
  per_target=$FUZZ_SECONDS
  if [ -n "${DANVAN_CI_START:-}" ]; then
    left=$(( DANVAN_CI_START + ${DANVAN_CI_BUDGET_S:-4800} - $(stamp) ))
    fit=$(( left / n_targets ))
    [ "$fit" -lt "$per_target" ] && per_target=$fit
    [ "$per_target" -lt "${FUZZ_MIN_SECONDS:-15}" ] && per_target=${FUZZ_MIN_SECONDS:-15}
    echo "== libFuzzer: ${left} s of the CI budget left, ${per_target} s per target"
  fi
  for target in $FUZZ_TARGETS; do
    work="$BA/fuzz-work/$target"
    rm -rf "$work"; mkdir -p "$work/corpus" "$work/artifacts"
    cp "$ROOT/tests/fuzz/corpus/$target/"* "$work/corpus/"
    echo "== libFuzzer: $target for ${per_target}s"
    status=0
    (cd "$work" && "$BA/tests/fuzz/$target" -max_total_time="$per_target" \
        -timeout=20 -rss_limit_mb=3072 -max_len=131072 -print_final_stats=1 \
        -artifact_prefix="$work/artifacts/" corpus > "$work/log" 2>&1) || status=$?
    # The run's figures (SECURITY.md records them): executions, new coverage, peak memory.
    grep -E "^stat::(number_of_executed_units|new_units_added|peak_rss_mb)|^Done " "$work/log" || true
    if [ -n "$(ls -A "$work/artifacts")" ] || [ "$status" != 0 ]; then
      tail -60 "$work/log"
      echo "libFuzzer found a problem in $target (exit $status): $(ls "$work/artifacts")" >&2
      echo "Reproduce: $ASAN_B/tests/fuzz/$target <artifact>; keep it as a seed in" \
           "tests/fuzz/corpus/$target/ and as a regression test." >&2
      exit 1
    fi
  done
fi
