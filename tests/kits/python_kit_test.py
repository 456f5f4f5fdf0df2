#!/usr/bin/env python3
"""The Python kit (installed copy) against the installed libdanvan.so: sample data, ABI refusal,
bad config, rejected event, second open refused, UTF-8 round trip, callbacks that raise, and
close while other threads are submitting. Run by tests/kits/kits_test.py.

Usage: python_kit_test.py --kit DIR --lib LIB --workdir DIR --sample-gen GEN --forbid PATH...
"""
import argparse
import json
import os
import subprocess
import sys
import threading

failures = []


def check(cond, message):
    if not cond:
        failures.append(message)
        print("FAIL: " + message, file=sys.stderr)


def mapped_paths():
    with open("/proc/self/maps") as f:
        return {line.split()[-1] for line in f if "/" in line}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kit", required=True)
    ap.add_argument("--lib", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--sample-gen", required=True)
    ap.add_argument("--forbid", action="append", default=[])
    a = ap.parse_args()
    sys.path.insert(0, a.kit)
    import danvan  # the installed kit

    check(os.path.realpath(danvan.__file__).startswith(os.path.realpath(a.kit)), "kit not the installed one")
    os.makedirs(a.workdir, exist_ok=True)

    # 1. ABI refusal: another major is refused with the plugin's reason.
    try:
        danvan.Library(a.lib, abi_major=danvan.ABI_MAJOR + 1)
        check(False, "ABI major 2 accepted")
    except danvan.AbiMismatch as e:
        check("ABI 2" in str(e) and "plugin ABI 1" in str(e), f"refusal without a reason: {e}")
    lib = danvan.Library(a.lib)
    check(lib.abi[0] == 1 and lib.abi[1] >= 1, f"abi {lib.abi}")
    libpath = [p for p in mapped_paths() if "libdanvan" in p]
    check(libpath and all(os.path.realpath(p) == os.path.realpath(a.lib) for p in libpath),
          f"loaded {libpath}, expected {a.lib}")
    for p in mapped_paths():
        for f in a.forbid:
            check(not p.startswith(f), f"mapped from the build/source tree: {p}")

    # 2. A bad configuration: InvalidInput with field errors (codes and paths).
    try:
        danvan.Plugin(lib, {"storage": {"engine": "mysql"}, "bogus": 1})
        check(False, "bad config accepted")
    except danvan.InvalidInput as e:
        paths = {x.path: x.code for x in e.errors}
        check(paths.get("/bogus") == "schema.unknown_field", f"bad config errors: {e.errors}")
        check(paths.get("/storage/engine") == "schema.enum", f"bad config errors: {e.errors}")
        check(all(x.message and x.message_en for x in e.errors), "an error without both messages")

    # Data directories come from the installed layout (no schemas_dir/config_dir, no variable).
    check("DANVAN_DATA_DIR" not in os.environ, "DANVAN_DATA_DIR is set")
    db = os.path.join(a.workdir, "py.sqlite")
    config = {"instance": "py-kit", "storage": {"engine": "sqlite", "path": db, "synchronous": "normal"},
              "log": {"level": "info"}}
    logs, alerts = [], []

    def log(level, line):
        logs.append(line)
        if line.get("event") == "opened":
            raise RuntimeError("a host callback that throws")

    with danvan.Plugin(lib, config, log=log, alert=alerts.append) as p:
        check(p.callback_errors >= 1, "the throwing log callback was not caught/counted")
        check(all("ts" in l and l.get("instance") == "py-kit" for l in logs), "log line without ts/instance")
        p.start()
        # 3. Second open of the same store: BadState naming the holder.
        try:
            danvan.Plugin(lib, config)
            check(False, "second open accepted")
        except danvan.BadState as e:
            check(e.codes == ["store.locked"] and f"pid {os.getpid()}" in str(e), f"second open: {e}")

        # 4. The sample data (tools/sample-gen), as bytes lines (some are deliberately not UTF-8).
        sample = os.path.join(a.workdir, "sample.jsonl")
        subprocess.run([sys.executable, a.sample_gen, "--out", sample, "--count-scale", "0.05"], check=True,
                       capture_output=True)
        manifest = json.load(open(sample.replace(".jsonl", ".manifest.json"), encoding="utf-8"))
        exp = manifest["expected"]
        with open(sample, "rb") as f:
            lines = [l.rstrip(b"\n") for l in f if l.strip()]
        outcomes = {}
        by_kind = {}
        for i in range(0, len(lines), 200):
            r = p.submit_batch(b"\n".join(lines[i:i + 200]))
            for res in r.results:
                outcomes[res.outcome] = outcomes.get(res.outcome, 0) + 1
                if res.outcome == "accepted":
                    k = res.key.get("kind")
                    by_kind[k] = by_kind.get(k, 0) + 1
                if res.outcome == "rejected":
                    check(res.errors and all(e.code for e in res.errors), f"rejected without codes: {res.raw}")
        for k in ("accepted", "duplicate", "stale", "rejected"):
            check(outcomes.get(k, 0) == exp[k], f"{k}: kit {outcomes.get(k, 0)}, manifest {exp[k]}")
        check(by_kind == exp["accepted_by_kind"], f"by kind {by_kind} != {exp['accepted_by_kind']}")
        stats = p.query("stats")
        check(stats.get("records") == sum(manifest["records"].values()), f"stats {stats}")

        # 5. A rejected event: InvalidInput with field errors; a bad date gives one error.
        ev = {"kind": "petition", "source": "py-kit", "id": "KN-PY-1", "unit": "SGDDT.TTRA", "version": 1,
              "event_time": "2023-02-30T09:00:00+07:00",
              "data": {"petition_kind": "complaint", "round": 1, "title": "Khiếu nại",
                       "content": "Nội dung", "received_at": "2023-02-30T09:00:00+07:00",
                       "channel": "direct", "petitioner_count": 1, "anonymous": False, "status": "received"}}
        try:
            p.submit(ev)
            check(False, "an event with 30 February accepted")
        except danvan.InvalidInput as e:
            at = [x for x in e.errors if x.path == "/data/received_at"]
            check(len(at) == 1 and at[0].code == "date.invalid", f"bad date errors: {e.errors}")
            check(e.result and e.result.get("outcome") == "rejected", f"rejected result: {e.result}")
        # Vietnamese text round trip (bytes, not characters).
        ev["id"], ev["event_time"] = "KN-PY-2", "2023-03-02T09:00:00+07:00"
        ev["data"]["received_at"] = "2023-03-02T09:00:00+07:00"
        ev["data"]["title"] = "Khiếu nại về việc thu tiền học thêm — Trường THPT Lê Quý Đôn"
        r = p.submit(ev)
        check(r.outcome == "accepted", f"good petition: {r}")
        got = p.query("record.get", source="py-kit", kind="petition", id="KN-PY-2")
        check(json.dumps(got, ensure_ascii=False).find("Lê Quý Đôn") >= 0, f"text not round-tripped: {got}")
        try:
            p.query("no.such.op")
            check(False, "unknown op answered")
        except danvan.NotFound as e:
            check(e.codes == ["op.unknown"], f"unknown op: {e.codes}")

    # 6. Close while other threads are submitting: every call either succeeds or raises BadState.
    db2 = os.path.join(a.workdir, "py-close.sqlite")
    p = danvan.Plugin(lib, {"instance": "py-close", "storage": {"engine": "sqlite", "path": db2, "synchronous": "normal"}})
    counts = {"ok": 0, "closed": 0, "other": 0}
    mu = threading.Lock()
    started = threading.Barrier(5)

    def worker(t):
        started.wait()
        for i in range(100000):
            e = dict(ev, id=f"T{t}-{i}", source="py-close")
            try:
                p.submit(e)
                k = "ok"
            except danvan.BadState:
                k = "closed"
            except Exception as x:  # noqa
                k = "other"
                print("unexpected:", repr(x), file=sys.stderr)
            with mu:
                counts[k] += 1
            if k == "closed":
                return

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    started.wait()
    import time
    time.sleep(0.5)
    p.close()
    for t in threads:
        t.join(timeout=60)
    check(not any(t.is_alive() for t in threads), "a submitter hangs after close")
    check(counts["ok"] > 0 and counts["closed"] == 4 and counts["other"] == 0, f"close under load: {counts}")
    # The store is free again: it reopens with what was acknowledged.
    with danvan.Plugin(lib, {"instance": "py-close", "storage": {"engine": "sqlite", "path": db2}}) as p2:
        check(p2.query("stats").get("records") == counts["ok"], "acknowledged events lost after close")

    print(f"python kit: {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
