#!/usr/bin/env bash
# The main job, in one command (README, first command):
#   1. installs the Debian packages (scripts/install-deps.sh; idempotent),
#   2. configures and builds with CMake into build/ (RelWithDebInfo, -j2),
#   3. generates the 2023 sample of Hai Phong's Department of Education and Training into
#      var/sample/ (tools/sample-gen, fixed seed),
#   4. writes var/danvan.json (from config/danvan.example.json) with the SQLite file at
#      var/danvan.sqlite,
#   5. loads libdanvan.so through the reference host (dlopen, exactly as a one-stop system
#      would), feeds it the sample and prints the summary: records accepted per kind and unit,
#      rejected with their reasons, where the SQLite file is.
# Idempotent: re-running reuses the build and re-creates var/.
#
# Environment (all optional):
#   DANVAN_BUILD_DIR     build directory               (default: build)
#   DANVAN_BUILD_TYPE    CMake build type              (default: RelWithDebInfo)
#   DANVAN_JOBS          parallel build jobs           (default: 2)
#   DANVAN_VAR_DIR       output directory              (default: var)
#   DANVAN_SAMPLE_SCALE  sample size (1 ≈ 14k events; 73 ≈ 1M)   (default: 1)
#   DANVAN_SAMPLE_SEED   generator seed                (default: 2023)
#   DANVAN_SKIP_DEPS=1   skip the package installation (machines without root/apt)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD_DIR="${DANVAN_BUILD_DIR:-build}"
BUILD_TYPE="${DANVAN_BUILD_TYPE:-RelWithDebInfo}"
JOBS="${DANVAN_JOBS:-2}"
VAR_DIR="${DANVAN_VAR_DIR:-var}"
SCALE="${DANVAN_SAMPLE_SCALE:-1}"
SEED="${DANVAN_SAMPLE_SEED:-2023}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
case "$VAR_DIR" in /*) ;; *) VAR_DIR="$ROOT/$VAR_DIR" ;; esac

step() { printf '\n==> %s\n' "$*" >&2; }

# ---------------------------------------------------------------------------------------------
step "1/5 Debian packages"
if [ "${DANVAN_SKIP_DEPS:-0}" = 1 ]; then
  echo "skipped (DANVAN_SKIP_DEPS=1)" >&2
else
  "$ROOT/scripts/install-deps.sh"
fi

# ---------------------------------------------------------------------------------------------
step "2/5 configure and build ($BUILD_DIR, $BUILD_TYPE, -j$JOBS)"
cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" >&2
# Targets the job runs. HOOK(portal-standin): add tools/portal-standin's target here.
TARGETS=(danvan danvan-host)
cmake --build "$BUILD_DIR" --parallel "$JOBS" --target "${TARGETS[@]}" >&2
LIB="$BUILD_DIR/plugin/libdanvan.so"
HOST="$BUILD_DIR/tools/danvan-host/danvan-host"
[ -f "$LIB" ] || { echo "run-main-job: $LIB was not built" >&2; exit 1; }
[ -x "$HOST" ] || { echo "run-main-job: $HOST was not built" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
step "3/5 sample data (seed $SEED, scale $SCALE) -> $VAR_DIR/sample/"
rm -rf "$VAR_DIR"
mkdir -p "$VAR_DIR/sample"
SAMPLE="$VAR_DIR/sample/haiphong-sgddt-2023.jsonl"
MANIFEST="$VAR_DIR/sample/haiphong-sgddt-2023.manifest.json"
python3 "$ROOT/tools/sample-gen/gen_sample.py" --seed "$SEED" --count-scale "$SCALE" \
  --out "$SAMPLE" --manifest "$MANIFEST"

# ---------------------------------------------------------------------------------------------
step "4/5 configuration -> $VAR_DIR/danvan.json"
CONFIG="$VAR_DIR/danvan.json"
DB="$VAR_DIR/danvan.sqlite"
python3 - "$ROOT/config/danvan.example.json" "$CONFIG" "$DB" "$ROOT" <<'PY'
import json, sys
src, dst, db, root = sys.argv[1:5]
with open(src, encoding="utf-8") as f:
    cfg = json.load(f)
cfg.setdefault("storage", {})["engine"] = cfg["storage"].get("engine", "sqlite")
cfg["storage"]["path"] = db
cfg["schemas_dir"] = root + "/schemas"
cfg["config_dir"] = root + "/config"
# HOOK(portal-standin): point cfg["portal"] at the stand-in started in step 5.
with open(dst, "w", encoding="utf-8") as f:
    json.dump(cfg, f, ensure_ascii=False, indent=1)
    f.write("\n")
PY

# ---------------------------------------------------------------------------------------------
step "5/5 load the sample through the reference host"
# HOOK(portal-standin): start tools/portal-standin here in the background (test CA, port in
# $VAR_DIR), stop it from an EXIT trap; the plugin's exporters then send to it on their own.
SUMMARY_TXT="$VAR_DIR/host-summary.txt"
SUMMARY_JSON="$VAR_DIR/host-summary.json"
set +e
"$HOST" --lib "$LIB" --config "$CONFIG" --input "$SAMPLE" --batch 1000 --log-level error \
  --summary-json "$SUMMARY_JSON" | tee "$SUMMARY_TXT"
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" -ne 0 ]; then
  echo "run-main-job: danvan-host failed (exit $rc)" >&2
  exit "$rc"
fi

# HOOK(reports): write the 6-month and annual reports (JSON, CSV, XLSX, HTML) into
# $VAR_DIR/reports/ here, and print where they are.

# The generator knows what a correct load reports; say whether this one matches.
python3 - "$MANIFEST" "$SUMMARY_JSON" <<'PY'
import json, sys
m = json.load(open(sys.argv[1], encoding="utf-8"))["expected"]
s = json.load(open(sys.argv[2], encoding="utf-8"))
o = s["outcomes"]
diff = [k for k in ("accepted", "duplicate", "stale", "rejected") if o.get(k, 0) != m[k]]
if s["accepted_by_kind"] != m["accepted_by_kind"]:
    diff.append("accepted_by_kind")
if s["accepted_by_unit"] != m["accepted_by_unit"]:
    diff.append("accepted_by_unit")
if diff:
    print("\nWARNING: the load differs from the generator's manifest in: " + ", ".join(diff))
else:
    print("\nThe load matches the generator's manifest (accepted, duplicate, stale, rejected, per kind and unit).")
PY

echo
echo "Sample:        $SAMPLE"
echo "Summary:       $SUMMARY_TXT (JSON: $SUMMARY_JSON)"
echo "SQLite file:   $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sqlite_path"])' "$SUMMARY_JSON")"
