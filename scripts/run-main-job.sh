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
# Targets the job runs: the plugin, the reference host and the national-portal stand-in.
TARGETS=(danvan danvan-host danvan-portal-standin)
cmake --build "$BUILD_DIR" --parallel "$JOBS" --target "${TARGETS[@]}" >&2
LIB="$BUILD_DIR/plugin/libdanvan.so"
HOST="$BUILD_DIR/tools/danvan-host/danvan-host"
STANDIN="$BUILD_DIR/tools/portal-standin/danvan-portal-standin"
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
step "4/5 portal stand-in over HTTPS (test CA made now) and configuration -> $VAR_DIR/danvan.json"
# A certificate authority and a server certificate for localhost, made at run time; the plugin
# verifies the stand-in's certificate against this CA (verification is never turned off).
PKI="$VAR_DIR/pki"
mkdir -p "$PKI"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=danvan demo CA" \
  -keyout "$PKI/ca.key" -out "$PKI/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
  -keyout "$PKI/server.key" -out "$PKI/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$PKI/san.ext"
openssl x509 -req -in "$PKI/server.csr" -CA "$PKI/ca.pem" -CAkey "$PKI/ca.key" -CAcreateserial \
  -days 2 -extfile "$PKI/san.ext" -out "$PKI/server.pem" 2>/dev/null
# The portal password lives only in the environment of the two processes, never in a file.
export DANVAN_PORTAL_PASSWORD="$(openssl rand -hex 16)"
DANVAN_STANDIN_PASSWORD="$DANVAN_PORTAL_PASSWORD" "$STANDIN" --port 0 --cert "$PKI/server.pem" \
  --key "$PKI/server.key" --style both --username motcua-sgddt --dstcode "VN:GOV:H31:SGDDT" \
  --store "$VAR_DIR/portal-received.jsonl" > "$VAR_DIR/standin.port" 2> "$VAR_DIR/standin.log" &
STANDIN_PID=$!
trap 'kill $STANDIN_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do [ -s "$VAR_DIR/standin.port" ] && break; sleep 0.1; done
PORT="$(head -n1 "$VAR_DIR/standin.port")"
[ -n "$PORT" ] || { echo "run-main-job: the portal stand-in did not start" >&2; cat "$VAR_DIR/standin.log" >&2; exit 1; }
echo "portal stand-in: https://localhost:$PORT (pid $STANDIN_PID)" >&2

CONFIG="$VAR_DIR/danvan.json"
DB="$VAR_DIR/danvan.sqlite"
python3 - "$ROOT/config/danvan.example.json" "$CONFIG" "$DB" "$ROOT" "$PORT" "$PKI/ca.pem" "$SAMPLE" <<'PY'
import json, sys
src, dst, db, root, port, ca = sys.argv[1:7]
with open(src, encoding="utf-8") as f:
    cfg = json.load(f)
cfg.setdefault("storage", {})["engine"] = cfg["storage"].get("engine", "sqlite")
cfg["storage"]["path"] = db
cfg["schemas_dir"] = root + "/schemas"
cfg["config_dir"] = root + "/config"
# Export to the stand-in: envelope style, the password from the environment, the unit and
# procedure code mappings an administrator would configure.
units = json.load(open(root + "/config/units/haiphong-sgddt.json", encoding="utf-8"))["units"]
procs = [p["code"] for p in json.load(open(root + "/config/procedures.json", encoding="utf-8"))["procedures"]]
# The sample's own procedure codes, as an administrator would map the department's catalogue.
sample = sys.argv[7]
for line in open(sample, encoding="utf-8", errors="replace"):
    try:
        code = json.loads(line).get("data", {}).get("MaTTHC")
    except (ValueError, AttributeError):
        continue
    if isinstance(code, str) and code and code not in procs:
        procs.append(code)
cfg["portal"] = {
    "style": "envelope",
    "base_url": "https://localhost:" + port,
    "default_madonvi": "000.00.20.H31",
    "tls": {"ca_file": ca},
    "envelope": {"username": "motcua-sgddt", "password_env": "DANVAN_PORTAL_PASSWORD",
                 "dstcode": "VN:GOV:H31:SGDDT"},
}
cfg["outbox"] = {
    "senders": 2,
    "mappings": {
        "units": {u["code"]: u.get("portal_code", "000.%02d.20.H31" % i) for i, u in enumerate(units)},
        "procedures": {code: code for code in procs},
    },
}
with open(dst, "w", encoding="utf-8") as f:
    json.dump(cfg, f, ensure_ascii=False, indent=1)
    f.write("\n")
PY

# ---------------------------------------------------------------------------------------------
step "5/5 load the sample through the reference host"
# The plugin's exporters send to the stand-in on their own threads; the host waits for them.
SUMMARY_TXT="$VAR_DIR/host-summary.txt"
SUMMARY_JSON="$VAR_DIR/host-summary.json"
set +e
"$HOST" --lib "$LIB" --config "$CONFIG" --input "$SAMPLE" --batch 1000 --log-level error \
  --summary-json "$SUMMARY_JSON" --drain-export 600 \
  --query '{"op":"exportlog.verify"}' | tee "$SUMMARY_TXT"
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" -ne 0 ]; then
  echo "run-main-job: danvan-host failed (exit $rc)" >&2
  exit "$rc"
fi

# HOOK(reports): write the 6-month and annual reports (JSON, CSV, XLSX, HTML) into
# $VAR_DIR/reports/ here, and print where they are.
# The "report" query op (plugin/engine/report_ops.cc) scores every unit with the default rubric
# (config/rubric/default.json) and writes report.json, report.html, report.xlsx and csv/*.csv.
REPORTS="$VAR_DIR/reports"
mkdir -p "$REPORTS"
set +e
"$HOST" --lib "$LIB" --config "$CONFIG" --log-level error --quiet \
  --query "{\"op\":\"report\",\"kind\":\"six_month\",\"year\":2023,\"format\":\"all\",\"path\":\"$REPORTS/6thang-2023\"}" \
  --query "{\"op\":\"report\",\"kind\":\"annual\",\"year\":2023,\"format\":\"all\",\"path\":\"$REPORTS/canam-2023\"}" \
  > "$VAR_DIR/reports.log"
rc=$?
set -e
if [ "$rc" -ne 0 ]; then
  echo "run-main-job: writing the reports failed (exit $rc)" >&2
  cat "$VAR_DIR/reports.log" >&2
  exit "$rc"
fi
echo "Báo cáo 6 tháng đầu năm 2023: $REPORTS/6thang-2023/ (report.html, report.xlsx, report.json, csv/)"
echo "Báo cáo năm 2023:              $REPORTS/canam-2023/ (report.html, report.xlsx, report.json, csv/)"

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
echo "Portal stand-in received: $VAR_DIR/portal-received.jsonl"
echo "SQLite file:   $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sqlite_path"])' "$SUMMARY_JSON")"
