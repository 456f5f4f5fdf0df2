#!/usr/bin/env python3
"""End-to-end check of the reference host: generate a small sample with tools/sample-gen (fixed
seed), load it through danvan-host (dlopen of the built libdanvan.so) and compare the host's
summary with the generator's manifest: accepted per kind and per unit, duplicates, stale and
rejected must match exactly. Then re-deliver the whole file through standard input with an odd
batch size: nothing may be accepted twice. Finally a host asking for another ABI major must be
refused with a reason.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

failures = []


def check(cond, message):
    if not cond:
        failures.append(message)
        print("FAIL: " + message, file=sys.stderr)


def run(cmd, **kw):
    print("+ " + " ".join(cmd), file=sys.stderr)
    return subprocess.run(cmd, capture_output=True, **kw)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--lib", required=True)
    ap.add_argument("--source-root", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--count-scale", default="0.15")
    a = ap.parse_args()

    shutil.rmtree(a.workdir, ignore_errors=True)
    os.makedirs(a.workdir)
    sample = os.path.join(a.workdir, "sample.jsonl")
    manifest_path = os.path.join(a.workdir, "sample.manifest.json")
    gen = run([sys.executable, os.path.join(a.source_root, "tools/sample-gen/gen_sample.py"),
               "--out", sample, "--count-scale", a.count_scale])
    if gen.returncode != 0:
        print(gen.stderr.decode(errors="replace"), file=sys.stderr)
        return 1
    with open(manifest_path, encoding="utf-8") as f:
        manifest = json.load(f)
    exp = manifest["expected"]

    with open(os.path.join(a.source_root, "config/danvan.example.json"), encoding="utf-8") as f:
        config = json.load(f)
    db = os.path.join(a.workdir, "danvan.sqlite")
    config["storage"]["path"] = db
    config["storage"]["synchronous"] = "normal"
    config["schemas_dir"] = os.path.join(a.source_root, "schemas")
    config["config_dir"] = os.path.join(a.source_root, "config")
    cfg_path = os.path.join(a.workdir, "danvan.json")
    with open(cfg_path, "w", encoding="utf-8") as f:
        json.dump(config, f, ensure_ascii=False)

    # 1. First delivery from a file.
    summary_path = os.path.join(a.workdir, "summary.json")
    r = run([a.host, "--lib", a.lib, "--config", cfg_path, "--input", sample, "--batch", "500",
             "--summary-json", summary_path, "--log-level", "error",
             "--query", '{"op":"quarantine.list","limit":5}'])
    out = r.stdout.decode("utf-8", errors="replace")
    sys.stdout.write(out)
    check(r.returncode == 0, f"danvan-host exit {r.returncode}: {r.stderr.decode(errors='replace')[-2000:]}")
    with open(summary_path, encoding="utf-8") as f:
        s = json.load(f)
    outcomes = s["outcomes"]
    check(s["events"] == manifest["events"], f"events {s['events']} != {manifest['events']}")
    for k in ("accepted", "duplicate", "stale", "rejected"):
        check(outcomes.get(k, 0) == exp[k], f"{k}: host says {outcomes.get(k, 0)}, manifest {exp[k]}")
    check(s["accepted_by_kind"] == exp["accepted_by_kind"],
          f"accepted by kind {s['accepted_by_kind']} != {exp['accepted_by_kind']}")
    check(s["accepted_by_unit"] == exp["accepted_by_unit"], "accepted by unit differs from the manifest")
    check(sum(g["count"] for g in s["rejected_reasons"]) >= exp["rejected"],
          "every rejected event needs at least one reason")
    check(all(g["reason"] for g in s["rejected_reasons"]), "a rejection group without a reason")
    check(os.path.samefile(s["sqlite_path"], db) if os.path.exists(s["sqlite_path"]) else False,
          f"SQLite path {s['sqlite_path']} is not {db}")
    check(f"SQLite file: {s['sqlite_path']}" in out, "summary does not print where the SQLite file is")
    check("rejected, by field and reason" in out, "summary lacks the rejection reasons")
    check("accepted by unit" in out and "SGDDT.TTRA" in out, "summary lacks the per-unit table")
    check('"items"' in out, "the --query response was not printed")
    st = s.get("stats") or {}
    check(st.get("records") == sum(manifest["records"].values()),
          f"stats records {st.get('records')} != {sum(manifest['records'].values())}")
    check(st.get("quarantined") == exp["rejected"], f"quarantined {st.get('quarantined')} != {exp['rejected']}")

    # 2. Re-delivery of everything through stdin, odd batch size: nothing accepted again.
    summary2 = os.path.join(a.workdir, "summary2.json")
    with open(sample, "rb") as f:
        r = run([a.host, "--lib", a.lib, "--config", cfg_path, "--input", "-", "--batch", "333",
                 "--summary-json", summary2, "--quiet"], stdin=f)
    check(r.returncode == 0, f"second delivery exit {r.returncode}")
    with open(summary2, encoding="utf-8") as f:
        s2 = json.load(f)
    o2 = s2["outcomes"]
    check(o2.get("accepted", 0) == 0, f"re-delivery accepted {o2.get('accepted', 0)} events again")
    check(o2.get("rejected", 0) == exp["rejected"], f"re-delivery rejected {o2.get('rejected', 0)}")
    check(o2.get("duplicate", 0) + o2.get("stale", 0) == manifest["events"] - exp["rejected"],
          f"re-delivery: duplicate+stale {o2.get('duplicate', 0) + o2.get('stale', 0)}")
    check((s2.get("stats") or {}).get("records") == st.get("records"), "re-delivery changed the record count")

    # 3. Wrong ABI major: refused with a reason, exit 3, nothing opened.
    r = run([a.host, "--lib", a.lib, "--config", cfg_path, "--host-abi-major", "2"])
    err = r.stderr.decode("utf-8", errors="replace")
    check(r.returncode == 3, f"wrong major: exit {r.returncode}")
    check("refused" in err and "2" in err, f"wrong major: no readable refusal: {err}")

    # 4. A bad configuration: open fails (exit 2) listing the error with its path.
    bad_cfg = os.path.join(a.workdir, "bad.json")
    with open(bad_cfg, "w") as f:
        json.dump({"schemas_dir": config["schemas_dir"], "config_dir": config["config_dir"],
                   "storage": {"engine": "mysql"}}, f)
    r = run([a.host, "--lib", a.lib, "--config", bad_cfg])
    err = r.stderr.decode("utf-8", errors="replace")
    check(r.returncode == 2 and "/storage/engine" in err, f"bad config: exit {r.returncode}: {err}")

    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print("reference host sample test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
