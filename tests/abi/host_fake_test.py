#!/usr/bin/env python3
"""The reference host against tests/abi/fake_plugin.c: back-pressure (RETRY_LATER) is retried
with backoff and nothing is lost, batches refused as a whole are split down to single events,
rejections are grouped by field and reason, alerts and the storage path are reported, a
too-small function table and a wrong ABI major are refused with exit 3. Needs no engine.
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


def host(a, cfg, *extra, env=None, stdin=None):
    cmd = [a.host, "--lib", a.plugin, "--config", cfg, *extra]
    print("+ " + " ".join(cmd), file=sys.stderr)
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run(cmd, capture_output=True, env=e, input=stdin)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--plugin", required=True)
    ap.add_argument("--workdir", required=True)
    a = ap.parse_args()
    shutil.rmtree(a.workdir, ignore_errors=True)
    os.makedirs(a.workdir)

    events = []
    for i in range(47):
        unit = "SGDDT.TTRA" if i % 3 else "SGDDT.VP"
        kind = "petition" if i % 2 else "dossier"
        ev = {"kind": kind, "source": "t", "id": str(i), "unit": unit, "version": 1,
              "event_time": "2023-01-05", "data": {}}
        if i % 10 == 9:
            ev["data"]["bad"] = True
        events.append(json.dumps(ev, separators=(",", ":")))
    text = "\n".join(events[:20]) + "\n\n   \n" + "\n".join(events[20:]) + "\n"
    inp = os.path.join(a.workdir, "in.jsonl")
    with open(inp, "w") as f:
        f.write(text)
    exp_rejected = sum(1 for i in range(47) if i % 10 == 9)
    exp_accepted = 47 - exp_rejected

    # Back-pressure twice per call, batches of 10 refused above 4 lines.
    cfg = os.path.join(a.workdir, "cfg.json")
    with open(cfg, "w") as f:
        json.dump({"storage": {"engine": "sqlite", "path": "x"}, "retry_later": 2, "max_batch_events": 4}, f)
    sj = os.path.join(a.workdir, "s.json")
    r = host(a, cfg, "--input", inp, "--batch", "10", "--summary-json", sj, "--log-level", "info",
             "--query", '{"op":"stats"}', "--query", '{"op":"nope"}')
    out, err = r.stdout.decode(), r.stderr.decode()
    sys.stdout.write(out)
    check(r.returncode == 5, f"a failed --query must give exit 5, got {r.returncode}: {err[-500:]}")
    s = json.load(open(sj))
    check(s["events"] == 47 and s["blank_lines"] == 2, f"events {s['events']} blank {s['blank_lines']}")
    check(s["outcomes"] == {"accepted": exp_accepted, "rejected": exp_rejected}, f"outcomes {s['outcomes']}")
    check(s["retries"] >= 2 * 5, f"back-pressure answers not retried: {s['retries']}")
    check(s["accepted_by_unit"].get("SGDDT.VP", 0) + s["accepted_by_unit"].get("SGDDT.TTRA", 0) == exp_accepted,
          f"per unit {s['accepted_by_unit']}")
    groups = s["rejected_reasons"]
    check(len(groups) == 1 and groups[0]["path"] == "/data/bad" and groups[0]["count"] == exp_rejected,
          f"rejections not grouped by path and reason (numbers differ): {groups}")
    check(s["alerts"] == {"due_soon": 1}, f"alerts {s['alerts']}")
    check(s["sqlite_path"] == "/fake/danvan.sqlite", f"sqlite path {s['sqlite_path']}")
    check("SQLite file: /fake/danvan.sqlite" in out, "SQLite path not printed")
    check("[danvan INFO]" in err and "[danvan WARN]" in err, "log callback lines not printed at info level")
    check("[danvan ALERT due_soon]" in err, "alert not printed")
    check("splitting" in err, "refused batches were not split")
    check('"records": ' + str(exp_accepted) in out, "stats query response not printed")

    # Same through stdin with --quiet: no progress or info logs, same outcome.
    with open(inp, "rb") as f:
        data = f.read()
    r = host(a, cfg, "--input", "-", "--batch", "3", "--quiet", "--summary-json", sj, stdin=data)
    check(r.returncode == 0, f"stdin run exit {r.returncode}")
    s = json.load(open(sj))
    check(s["outcomes"] == {"accepted": exp_accepted, "rejected": exp_rejected}, f"stdin outcomes {s['outcomes']}")
    check("[danvan INFO]" not in r.stderr.decode() and "progress" not in r.stderr.decode(),
          "--quiet still prints progress or info logs")

    # Back-pressure that never clears: give up with exit 4 after --max-retry-seconds.
    with open(cfg, "w") as f:
        json.dump({"storage": {}, "retry_later": 1000000}, f)
    r = host(a, cfg, "--input", inp, "--max-retry-seconds", "1", "--quiet")
    check(r.returncode == 4 and "retry_later" in r.stderr.decode(), f"endless back-pressure: exit {r.returncode}")

    # Refusals.
    r = host(a, cfg, "--host-abi-major", "9")
    check(r.returncode == 3 and "host ABI 9, plugin ABI 1" in r.stderr.decode(), "wrong major not refused")
    r = host(a, cfg, env={"FAKE_DANVAN_SMALL_TABLE": "1"})
    check(r.returncode == 3 and "too small" in r.stderr.decode(), "small function table not refused")
    r = host(a, os.path.join(a.workdir, "missing.json"))
    check(r.returncode == 2, "missing config file must fail open (exit 2)")
    with open(cfg, "w") as f:
        f.write("not json")
    r = host(a, cfg)
    check(r.returncode == 2 and "JSON" in r.stderr.decode(), f"bad config: exit {r.returncode}")
    r = subprocess.run([a.host, "--lib", "/nonexistent/libdanvan.so", "--config", cfg], capture_output=True)
    check(r.returncode == 3 and "cannot load" in r.stderr.decode(), "missing library not reported")
    r = subprocess.run([a.host, "--config", cfg], capture_output=True)
    check(r.returncode == 1, "missing --lib must be a usage error")

    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print("reference host fake-plugin test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
