#!/usr/bin/env python3
"""danvanctl against a real plugin state (issue 15).

A temporary directory gets the 2023 sample (tools/sample-gen, small scale), a configuration that
exports to the national-portal stand-in over HTTPS (a certificate made now), and the built
libdanvan.so. Every command runs as an administrator would run it; the answers are checked
against the sample's manifest and the stand-in, and every error exit is provoked: bad
configuration (each error with its path), the store held by another handle (the Python kit
opening it, as a running host), unknown command, bad arguments, missing library, missing store.
The reference host plays the running host that exports (and so makes a dead letter when the
stand-in refuses a dossier).
"""
import argparse
import json
import os
import pty
import select
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.request
import ssl

failures = []


def check(cond, message):
    if not cond:
        failures.append(message)
        print("FAIL: " + message, file=sys.stderr)
    return cond


class Ctl:
    def __init__(self, exe, lib, config):
        self.exe, self.lib, self.config = exe, lib, config

    def run(self, *args, lang="vi_VN.UTF-8", config=None, lib=None, stdin=None, raw_args=False):
        cmd = [self.exe]
        if not raw_args:
            cmd += ["--lib", lib or self.lib, "--config", config or self.config]
        cmd += list(args)
        env = dict(os.environ)
        for k in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
            env.pop(k, None)
        env["LANG"] = lang
        r = subprocess.run(cmd, capture_output=True, env=env, stdin=stdin, timeout=120)
        out = r.stdout.decode("utf-8", errors="replace")
        err = r.stderr.decode("utf-8", errors="replace")
        print(f"+ danvanctl {' '.join(args)} -> {r.returncode}", file=sys.stderr)
        return r.returncode, out, err

    def json(self, *args, expect=0, **kw):
        rc, out, err = self.run("--json", *args, **kw)
        check(rc == expect, f"{' '.join(args)}: exit {rc}, expected {expect}: {err[-1500:]}")
        try:
            return json.loads(out.strip().splitlines()[-1]) if out.strip() else None
        except ValueError:
            check(False, f"{' '.join(args)}: --json output is not JSON: {out[:500]}")
            return None


def run_in_pty(cmd, env):
    """Runs cmd with stderr on a pseudo-terminal; returns (exit code, stderr text)."""
    master, slave = pty.openpty()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        r, _, _ = select.select([master], [], [], 0.2)
        if r:
            try:
                data = os.read(master, 65536)
            except OSError:
                data = b""
            if not data:
                break
            chunks.append(data)
        elif p.poll() is not None:
            break
    p.wait(timeout=120)
    os.close(master)
    return p.returncode, b"".join(chunks).decode("utf-8", errors="replace")


def make_pki(work):
    pki = os.path.join(work, "pki")
    os.makedirs(pki)
    cert, key = os.path.join(pki, "cert.pem"), os.path.join(pki, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "2", "-keyout", key, "-out", cert, "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


def standin_call(port, ca, path, body=None):
    ctx = ssl.create_default_context(cafile=ca)
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"https://localhost:{port}{path}", data=data,
                                 method="POST" if body is not None else "GET",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
        return json.loads(r.read().decode())


def main():
    ap = argparse.ArgumentParser()
    for a in ("--ctl", "--lib", "--host", "--standin", "--source-root", "--workdir"):
        ap.add_argument(a, required=True)
    a = ap.parse_args()
    root = a.source_root
    work = a.workdir
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    t0 = time.time()

    # ---- the sample and the stand-in -----------------------------------------------------------
    sample = os.path.join(work, "sample.jsonl")
    subprocess.run([sys.executable, os.path.join(root, "tools/sample-gen/gen_sample.py"), "--out", sample,
                    "--count-scale", "0.05"], check=True, capture_output=True)
    manifest = json.load(open(os.path.join(work, "sample.manifest.json"), encoding="utf-8"))
    exp = manifest["expected"]
    cert, key = make_pki(work)
    password = os.urandom(8).hex()
    env = dict(os.environ, DANVAN_STANDIN_PASSWORD=password)
    port_file = os.path.join(work, "standin.port")
    standin = subprocess.Popen([a.standin, "--port", "0", "--cert", cert, "--key", key, "--style", "both",
                                "--username", "motcua-sgddt", "--schemas", os.path.join(root, "schemas/portal")],
                               stdout=open(port_file, "w"), stderr=open(os.path.join(work, "standin.log"), "w"),
                               env=env)
    try:
        for _ in range(100):
            if os.path.getsize(port_file) > 0:
                break
            time.sleep(0.1)
        port = open(port_file).read().split()[0]
        return run_tests(a, root, work, sample, manifest, exp, cert, port, password, t0)
    finally:
        standin.terminate()
        standin.wait(timeout=10)


def run_tests(a, root, work, sample, manifest, exp, ca, port, password, t0):
    os.environ["DANVAN_PORTAL_PASSWORD"] = password  # inherited by danvanctl and the host only
    db = os.path.join(work, "store", "danvan.sqlite")
    units = json.load(open(os.path.join(root, "config/units/haiphong-sgddt.json"), encoding="utf-8"))["units"]
    procs = [p["code"] for p in json.load(open(os.path.join(root, "config/procedures.json"), encoding="utf-8"))["procedures"]]
    dossier_versions = {}
    for line in open(sample, encoding="utf-8", errors="replace"):
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        d = ev.get("data") if isinstance(ev, dict) else None
        if not isinstance(d, dict):
            continue
        if isinstance(d.get("MaTTHC"), str) and d["MaTTHC"] and d["MaTTHC"] not in procs:
            procs.append(d["MaTTHC"])
        if ev.get("kind") == "dossier" and d.get("TrangThaiHoSo") and d.get("NgayTiepNhan"):
            dossier_versions[ev.get("id")] = dossier_versions.get(ev.get("id"), 0) + 1
    unit_map = {u["code"]: u.get("portal_code", "000.%02d.20.H31" % i) for i, u in enumerate(units)}
    cfg = {
        "instance": "danvanctl-test",
        "storage": {"engine": "sqlite", "path": db, "synchronous": "normal"},
        "schemas_dir": os.path.join(root, "schemas"),
        "config_dir": os.path.join(root, "config"),
        "log": {"level": "warn"},
        "portal": {"style": "envelope", "base_url": "https://localhost:" + port, "default_madonvi": "000.00.20.H31",
                   "tls": {"ca_file": ca},
                   "envelope": {"username": "motcua-sgddt", "password_env": "DANVAN_PORTAL_PASSWORD", "dstcode": "VN:GOV:H31"}},
        "outbox": {"senders": 1, "backoff_base_ms": 50, "backoff_cap_ms": 500,
                   "mappings": {"units": unit_map, "procedures": {c: c for c in procs}}},
    }
    cfg_path = os.path.join(work, "danvan.json")
    json.dump(cfg, open(cfg_path, "w", encoding="utf-8"), ensure_ascii=False, indent=1)
    ctl = Ctl(a.ctl, a.lib, cfg_path)

    # ---- usage, help, language (no store opened) -----------------------------------------------
    rc, out, err = ctl.run(raw_args=True)
    check(rc == 2 and "danvanctl" in err, f"no arguments: exit {rc}")
    rc, out, err = ctl.run("--help", raw_args=True)
    check(rc == 0 and "Cách dùng" in out and "Mã thoát" in out, f"--help (vi): {rc} {out[:200]}")
    rc, out, err = ctl.run("--help", raw_args=True, lang="en_US.UTF-8")
    check(rc == 0 and "Usage" in out and "Exit codes" in out and "Cách dùng" not in out, f"--help (en): {out[:200]}")
    commands = [["config", "validate"], ["config", "show"], ["outbox", "status"], ["deadletter", "list"],
                ["deadletter", "resend"], ["reconcile"], ["mappings", "set"], ["mappings", "list"], ["retag"],
                ["review", "list"], ["review", "confirm"], ["review", "correct"], ["indicators"], ["score"],
                ["manual-entry"], ["report"], ["import"], ["verify-log"], ["config", "reload"], ["audit", "list"],
                ["adapter", "test"]]
    for c in commands:
        rc, out, err = ctl.run(*c, "--help", raw_args=True)
        check(rc == 0 and ("danvanctl " + " ".join(c)) in out, f"{' '.join(c)} --help: exit {rc}: {out[:200]}")
    for c in commands:
        # Every command: its help in English by locale, and an unknown option is a usage error
        # (exit 2) named in the message, in Vietnamese by default, before any store is opened.
        rc, out, err = ctl.run(*c, "--help", raw_args=True, lang="en_US.UTF-8")
        check(rc == 0 and "Global options" in out and "Tùy chọn chung" not in out, f"{' '.join(c)} --help (en): {out[:200]}")
        rc, out, err = ctl.run(*c, "--no-such-option")
        check(rc == 2 and "--no-such-option" in err, f"{' '.join(c)} --no-such-option: exit {rc}: {err[:200]}")
    rc, out, err = ctl.run("import", "--help", raw_args=True, lang="en_US.UTF-8")
    check("bulk import" in out and "repeatable" in out, f"import --help in English: {out[:300]}")
    rc, out, err = ctl.run("deadletter", "--help", raw_args=True)
    check(rc == 0 and "list" in out and "resend" in out, f"deadletter --help lists its subcommands: {out}")
    rc, out, err = ctl.run("frobnicate")
    check(rc == 2 and "frobnicate" in err and "không có" in err, f"unknown command: {rc} {err}")
    rc, out, err = ctl.run("frobnicate", lang="en_US.UTF-8")
    check(rc == 2 and "unknown command" in err, f"unknown command (en): {err}")
    rc, out, err = ctl.run("deadletter")
    check(rc == 2 and "list" in err and "resend" in err, f"deadletter without subcommand: {rc} {err}")
    rc, out, err = ctl.run("deadletter", "list", "--limit", "abc")
    check(rc == 2 and "--limit" in err, f"bad --limit: {rc} {err}")
    rc, out, err = ctl.run("deadletter", "list", "--bogus")
    check(rc == 2 and "--bogus" in err, f"unknown option: {rc} {err}")
    rc, out, err = ctl.run("deadletter", "resend")
    check(rc == 2, f"resend without ID: {rc}")
    rc, out, err = ctl.run("indicators", "--unit", "SGDDT", "--period", "2023-X7")
    check(rc == 2 and "--period" in err, f"bad period: {rc} {err}")
    rc, out, err = ctl.run("outbox", "status", raw_args=True)
    check(rc == 2 and "--config" in err, f"no --config: {rc} {err}")

    # ---- configuration ---------------------------------------------------------------------------
    rc, out, err = ctl.run("outbox", "status")
    check(rc == 6 and db in err, f"outbox status before the store exists: {rc} {err}")
    check(not os.path.exists(db), "outbox status created an empty store")
    rc, out, err = ctl.run("config", "validate", lib=os.path.join(work, "no-such-libdanvan.so"))
    check(rc == 3, f"missing library: exit {rc}: {err}")
    bad = dict(cfg, bogus=1, storage={"engine": "mysql", "path": db})
    bad_path = os.path.join(work, "bad.json")
    json.dump(bad, open(bad_path, "w"))
    rc, out, err = ctl.run("config", "validate", config=bad_path)
    check(rc == 4 and "/bogus" in err and "/storage/engine" in err and "Cấu hình không hợp lệ" in err,
          f"bad config: {rc} {err}")
    doc = ctl.json("config", "validate", config=bad_path, expect=4)
    paths = [e.get("path") for e in (doc or {}).get("errors", [])]
    check("/bogus" in paths and "/storage/engine" in paths, f"--json error document: {doc}")
    rc, out, err = ctl.run("config", "validate", config=bad_path, lang="en_US.UTF-8")
    check(rc == 4 and "Invalid configuration" in err, f"bad config (en): {err}")
    not_json = os.path.join(work, "notjson.json")
    open(not_json, "w").write("{\"storage\": ")
    rc, out, err = ctl.run("config", "validate", config=not_json)
    check(rc == 4 and "json." in err, f"config not JSON: {rc} {err}")
    rc, out, err = ctl.run("config", "validate", config=os.path.join(work, "missing.json"))
    check(rc == 4, f"missing config file: {rc}")

    secret_cfg = json.loads(json.dumps(cfg))
    secret_cfg["portal"]["envelope"]["password"] = "hunter2-plaintext"
    secret_cfg["portal"]["oauth2"] = {"client_secret": "s3cr3t-value", "client_secret_env": "OAUTH_SECRET"}
    secret_path = os.path.join(work, "secret.json")
    json.dump(secret_cfg, open(secret_path, "w"))
    rc, out, err = ctl.run("config", "show", config=secret_path)
    check(rc == 0 and "hunter2" not in out and "s3cr3t" not in out and '"***"' in out, f"config show redacts: {out}")
    check("DANVAN_PORTAL_PASSWORD" in out and "OAUTH_SECRET" in out, "config show keeps references by name")
    check("tệp cấu hình như đã ghi" in err and "--effective" in err, f"config show says it prints the file: {err}")
    shown = ctl.json("config", "show", config=secret_path)
    check(shown and shown["portal"]["envelope"]["password"] == "***" and shown["storage"]["path"] == db,
          f"config show --json: {shown}")

    rc, out, err = ctl.run("config", "validate")
    check(rc == 0 and "Cấu hình hợp lệ" in out and db in out, f"config validate: {rc} {out} {err}")
    check(os.path.exists(db), "config validate did not open the store")

    # ---- import ----------------------------------------------------------------------------------
    res = ctl.json("import", sample, "--batch", "100", expect=9)
    if res:
        s = res["summary"]
        for k in ("accepted", "duplicate", "stale", "rejected"):
            check(s[k] == exp[k], f"import {k}: {s[k]} != manifest {exp[k]}")
        check(res["events"] == manifest["events"], f"import events {res['events']} != {manifest['events']}")
        lines = open(sample, encoding="utf-8", errors="replace").read().split("\n")
        check(len(res["rejected"]) == 20, f"rejected lines shown: {len(res['rejected'])}")
        for r in res["rejected"]:
            key = r.get("key") or {}
            if key.get("id"):
                check(key["id"] in lines[r["line"] - 1], f"rejected line {r['line']} does not hold {key['id']}")
            check(all("path" in e and ("message" in e or "reason" in e) for e in r["errors"]), f"rejected errors: {r}")
    rc, out, err = ctl.run("import", sample, "--batch", "333")
    check(rc == 9 and "bị từ chối" in out and "dòng" in out.lower(), f"import again (human): {rc} {out[-800:]}")
    res = ctl.json("import", sample, expect=9)
    if res:
        s = res["summary"]
        check(s["accepted"] == 0 and s["duplicate"] + s["stale"] == manifest["events"] - exp["rejected"],
              f"re-import: {s}")
    # Progress bar only on a terminal.
    env = {k: v for k, v in os.environ.items() if k not in ("LC_ALL", "LC_MESSAGES", "LANGUAGE")}
    env["LANG"] = "vi_VN.UTF-8"
    rc, tty_err = run_in_pty([a.ctl, "--lib", a.lib, "--config", cfg_path, "import", sample], env)
    check(rc == 9 and "%" in tty_err and "█" in tty_err, f"no progress bar on a terminal: {tty_err[-300:]}")
    rc, out, err = ctl.run("import", sample)
    check("█" not in err, "progress bar drawn when stderr is not a terminal")

    csv_path = os.path.join(work, "reception.csv")
    with open(csv_path, "w", encoding="utf-8-sig", newline="") as f:
        f.write("Mã buổi,Đơn vị,Ngày,Người tiếp,Số người,Nội dung\r\n")
        f.write("CSV-001,SGDDT.VP,2023-03-15,head,4,chế độ chính sách\r\n")
        f.write("CSV-002,SGDDT.TTRA,2023-03-16,deputy,2,\"đất đai, \"\"giải phóng\"\" mặt bằng\nnhiều dòng\"\r\n")
        f.write("CSV-003,SGDDT.VP,2023-04-20,head,nhiều,khác\r\n")
        f.write("\r\n")
        f.write("CSV-004,SGDDT.VP,2023-05-11,head,7,tuyển sinh\r\n")
    maps = ["--map", "Mã buổi=id", "--map", "Đơn vị=unit", "--map", "Ngày=data.date", "--map", "Người tiếp=data.receiver_role",
            "--map", "Số người=data.people_count:int", "--map", "Nội dung=data.content_class",
            "--set", "kind=reception", "--set", "source=csv-import", "--set", "version=1",
            "--set", "event_time=2023-03-15T08:00:00+07:00", "--set", "data.session_type=periodic"]
    res = ctl.json("import", csv_path, *maps, expect=9)
    if res:
        s = res["summary"]
        check(s["accepted"] == 3 and s["rejected"] == 1, f"CSV import: {s}")
        rej = res["rejected"][0] if res["rejected"] else {}
        check(rej.get("line") == 5 and any(e.get("path") == "/data/people_count" for e in rej.get("errors", [])),
              f"CSV rejected row: {rej}")
    res = ctl.json("import", csv_path, *maps, expect=9)
    check(res and res["summary"]["duplicate"] == 3, f"CSV re-import: {res and res['summary']}")
    rc, out, err = ctl.run("import", csv_path, "--map", "Không có=id")
    check(rc == 2 and "Không có" in err and "Mã buổi" in err, f"--map of a missing column: {rc} {err}")
    rc, out, err = ctl.run("import", sample, "--map", "a=b")
    check(rc == 2, f"--map with JSONL: {rc}")
    rc, out, err = ctl.run("import", os.path.join(work, "nothing.jsonl"))
    check(rc == 2, f"import of a missing file: {rc}")

    # ---- the store held by another handle (a running host) ------------------------------------
    # The holder is the reference C++ host reading its events from a pipe (it keeps the state
    # open until the pipe closes), not the Python kit: a library built with a sanitizer cannot be
    # loaded into an interpreter that is not linked with the sanitizer's runtime, and this test
    # also runs in the ASan stage (scripts/sanitize.sh).
    holder_cfg = os.path.join(work, "holder-config.json")
    with open(holder_cfg, "w", encoding="utf-8") as f:
        # Its export stays off: the host starts the plugin, and the export below must find the
        # queue as intake left it (with the outbox on, the holder would send it first).
        json.dump(dict(cfg, instance="hote-dang-chay", outbox=dict(cfg["outbox"], enabled=False)), f,
                  ensure_ascii=False)
    holder = subprocess.Popen([a.host, "--lib", a.lib, "--config", holder_cfg, "--input", "-", "--quiet"],
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # Wait, without opening the store, until the holder has the lock: the lock file names
        # its holder once it is taken (core/store_lock.h). Polling with danvanctl instead would
        # itself hold the store for a moment and could make the holder's open fail.
        lock_file = cfg["storage"]["path"] + ".lock"
        deadline = time.monotonic() + 120
        def holder_named():
            try:
                with open(lock_file, encoding="utf-8", errors="replace") as f:
                    text = f.read()
            except OSError:
                return False
            return "hote-dang-chay" in text and str(holder.pid) in text
        while not holder_named() and holder.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        rc, out, err = ctl.run("outbox", "status")
        check(rc == 5 and "store.locked" in err and "hote-dang-chay" in err and "máy chủ" in err,
              f"store held by another handle: {rc} {err}")
        rc, out, err = ctl.run("outbox", "status", lang="en_US.UTF-8")
        check(rc == 5 and "held by another handle" in err, f"store locked (en): {err}")
        doc = ctl.json("verify-log", expect=5)
        check(doc and doc.get("errors", [{}])[0].get("code") == "store.locked", f"--json store.locked document: {doc}")
        rc, out, err = ctl.run("config", "validate")
        check(rc == 5, f"config validate while held: {rc}")
    finally:
        holder.stdin.close()
        try:
            holder.wait(timeout=60)
        except subprocess.TimeoutExpired:
            holder.kill()
            holder.wait()
        check(holder.returncode == 0, f"holder host exit: {holder.returncode} {holder.stderr.read().decode(errors='replace')[-800:]}")

    # ---- export: the reference host exports, the portal refuses one dossier ---------------------
    target = max(dossier_versions, key=lambda k: (dossier_versions[k], k))
    standin_call(port, ca, "/_control/faults", {"reject_items": [target]})
    r = subprocess.run([a.host, "--lib", a.lib, "--config", cfg_path, "--drain-export", "30", "--quiet"],
                       capture_output=True, timeout=120)
    check(r.returncode == 0, f"reference host export: {r.returncode} {r.stderr.decode(errors='replace')[-800:]}")
    st = ctl.json("outbox", "status")
    check(st and st["dead_letters"] >= 1, f"a dead letter after the refusal: {st}")
    rc, out, err = ctl.run("outbox", "status")
    check(rc == 0 and "thư chết" in out and "hàng đợi" in out, f"outbox status (vi): {out}")
    rc, out, err = ctl.run("outbox", "status", lang="en_US.UTF-8")
    check(rc == 0 and "dead letters" in out and "queue" in out, f"outbox status (en): {out}")
    dl = ctl.json("deadletter", "list")
    items = [d for d in (dl or {}).get("items", []) if d["record_id"] == target]
    check(items, f"dead letter of {target}: {dl}")
    rc, out, err = ctl.run("deadletter", "list")
    check(rc == 0 and target in out, f"deadletter list (human): {out}")
    rc, out, err = ctl.run("deadletter", "resend", "987654")
    check(rc == 7 and "987654" in err, f"resend of an unknown dead letter: {rc} {err}")
    standin_call(port, ca, "/_control/faults", {"reject_items": []})
    if items:
        dl_id = str(items[0]["id"])
        rc, out, err = ctl.run("deadletter", "resend", dl_id)
        check(rc == 0 and dl_id in out, f"resend: {rc} {out} {err}")
        rc, out, err = ctl.run("deadletter", "resend", dl_id)
        check(rc == 1 and "conflict" in err, f"second resend of the same letter: {rc} {err}")
    rec = ctl.json("reconcile", "--timeout", "60")
    check(rec and rec.get("checked", 0) > 0 and "lookup_errors" in rec, f"reconcile: {rec}")
    dl = ctl.json("deadletter", "list")
    check(any(d["record_id"] == target and d["resent_at"] for d in (dl or {}).get("items", [])),
          f"the dead letter is marked resent: {dl}")

    # ---- export log --------------------------------------------------------------------------------
    v = ctl.json("verify-log")
    check(v and v["valid"] and v["entries"] > 0, f"verify-log: {v}")
    rc, out, err = ctl.run("verify-log")
    check(rc == 0 and "có" in out, f"verify-log (human): {out}")

    # ---- tagging and review ----------------------------------------------------------------------
    rt = ctl.json("retag")
    check(rt and rt["status"]["running"] is False and rt["status"]["processed"] == rt["total"] and rt["total"] > 0,
          f"retag: {rt}")
    check(rt and rt["progress"]["state"] == "done" and rt["progress"]["done"] == rt["progress"]["total"] == rt["total"],
          f"retag progress (the plugin's count): {rt and rt.get('progress')}")
    rc, tty_err = run_in_pty([a.ctl, "--lib", a.lib, "--config", cfg_path, "retag"], env)
    check(rc == 0 and "Gắn nhãn lại" in tty_err and "100%" in tty_err, f"retag progress bar: {tty_err[-300:]}")
    bad_rules = os.path.join(work, "rules.json")
    open(bad_rules, "w").write('{"rules": 1}')
    rc, out, err = ctl.run("retag", "--rules", bad_rules)
    check(rc == 1 and "rules.schema.json" in err, f"retag with a bad rule file: {rc} {err}")

    rv = ctl.json("review", "list", "--limit", "5")
    check(rv is not None and rv["pending"] >= 0, f"review list: {rv}")
    rc, out, err = ctl.run("review", "list")
    check(rc == 0 and "Chờ rà soát" in out, f"review list (human): {out[:300]}")
    pending = (rv or {}).get("items", [])
    check(len(pending) >= 2, f"the sample has letters to review: {rv}")
    if len(pending) >= 2:
        k0, k1 = pending[0]["key"], pending[1]["key"]
        rc, out, err = ctl.run("review", "confirm", "--source", k0["source"], "--kind", k0["kind"], "--id", k0["id"],
                               "--by", "Trần Thị Hoa", "--why", "đã đọc lại đơn")
        check(rc == 0 and k0["id"] in out, f"review confirm: {rc} {out} {err}")
        rc, out, err = ctl.run("review", "correct", "--source", k1["source"], "--kind", k1["kind"], "--id", k1["id"],
                               "--by", "Trần Thị Hoa", "--set-kind", "complaint")
        check(rc == 1 and "/why" in err, f"correct without a reason: {rc} {err}")
        c = ctl.json("review", "correct", "--source", k1["source"], "--kind", k1["kind"], "--id", k1["id"],
                     "--by", "Trần Thị Hoa", "--why", "nội dung là khiếu nại", "--set-kind", "complaint",
                     "--flag", "staff_conduct=true")
        check(c and c["decision"]["kind"] == "complaint" and c["decision"]["flags"]["staff_conduct"] is True,
              f"review correct: {c}")
        d = ctl.json("review", "list", "--decided")
        decided = [json.dumps(i["key"], sort_keys=True) for i in (d or {}).get("items", [])]
        check(json.dumps(k0, sort_keys=True) in decided and json.dumps(k1, sort_keys=True) in decided,
              f"decided list: {d}")
    rc, out, err = ctl.run("review", "confirm", "--source", "x", "--kind", "petition", "--id", "KHONG-CO", "--by", "a")
    check(rc == 7, f"confirm of an unknown record: {rc} {err}")
    rc, out, err = ctl.run("review", "confirm", "--source", "x", "--kind", "petition")
    check(rc == 2 and "--id" in err, f"confirm without --id: {rc} {err}")

    # ---- indicators, scores, manual entries, reports -------------------------------------------
    ind = ctl.json("indicators", "--unit", "SGDDT", "--period", "2023-H1")
    check(ind and len(ind["indicators"]) > 5 and ind["period"]["kind"] == "half_year", f"indicators: {ind and ind.keys()}")
    rc, out, err = ctl.run("indicators", "--unit", "SGDDT", "--period", "2023-03", "--ids", "idx766.on_time")
    check(rc == 0 and "idx766.on_time" in out and "Tháng 3/2023" in out, f"indicators (human): {out}")
    rc, out, err = ctl.run("indicators", "--unit", "KHONG.CO", "--period", "2023")
    check(rc == 7 and "/unit" in err, f"indicators of an unknown unit: {rc} {err}")
    sc = ctl.json("score", "--period", "2023-H1")
    check(sc and len(sc["ranking"]) > 5 and sc["journal_id"] > 0, f"score: {sc and sc.keys()}")
    rc, out, err = ctl.run("score", "--period", "2023-H1")
    check(rc == 0 and "hạng" in out and "SGDDT.TTRA" in out, f"score (human): {out[:400]}")
    me = ctl.json("manual-entry", "--unit", "SGDDT.TTRA", "--period", "2023-H1", "--criterion", "g1.plan_issued",
                  "--assessor", "self", "--score", "3", "--evidence", "Kế hoạch số 12/KH-TTRA", "--by", "Nguyễn Văn An")
    check(me and me["journal_id"] > 0 and me["entry"]["score"] == 3, f"manual-entry: {me}")
    rc, out, err = ctl.run("manual-entry", "--unit", "SGDDT.TTRA", "--period", "2023-H1", "--criterion", "g1.plan_issued",
                           "--assessor", "self", "--score", "99", "--evidence", "x", "--by", "a")
    check(rc == 1 and "99" in err, f"manual-entry out of range: {rc} {err}")
    rc, out, err = ctl.run("manual-entry", "--unit", "SGDDT.TTRA", "--period", "2023-H1", "--criterion", "g1.plan_issued",
                           "--assessor", "self", "--score", "ba", "--evidence", "x", "--by", "a")
    check(rc == 2 and "--score" in err, f"manual-entry with a non-number: {rc} {err}")
    ml = ctl.json("manual-entry", "--list", "--period", "2023-H1", "--unit", "SGDDT.TTRA")
    check(ml and len(ml["entries"]) == 1, f"manual-entry --list: {ml}")

    rep = os.path.join(work, "reports")
    rc, out, err = ctl.run("report", "--kind", "six_month", "--year", "2023", "--format", "html", "--out", rep)
    check(rc == 0 and os.path.isfile(os.path.join(rep, "report.html")), f"report html: {rc} {err}")
    check(sorted(os.listdir(rep)) == ["report.html"], f"report html wrote only the html: {os.listdir(rep)}")
    rc, out, err = ctl.run("report", "--kind", "annual", "--year", "2023", "--format", "all", "--out", rep + "-all")
    listing = sorted(os.listdir(rep + "-all")) if os.path.isdir(rep + "-all") else []
    check(rc == 0 and listing == ["csv", "report.html", "report.json", "report.xlsx"], f"report all: {rc} {listing} {err}")
    rc, tty_err = run_in_pty([a.ctl, "--lib", a.lib, "--config", cfg_path, "report", "--kind", "six_month",
                              "--year", "2023", "--out", os.path.join(work, "report-tty.json")], env)
    check(rc == 0 and "Lập báo cáo" in tty_err and "100%" in tty_err, f"report progress bar: {tty_err[-300:]}")
    rj = ctl.json("report", "--kind", "six_month", "--year", "2023")
    check(rj and rj["kind"] == "six_month" and "report" in rj, f"report json: {rj and rj.keys()}")
    rc, out, err = ctl.run("report", "--kind", "quarterly", "--year", "2023")
    check(rc == 1 and "/kind" in err, f"report of a bad kind: {rc} {err}")
    rc, out, err = ctl.run("report", "--kind", "annual", "--year", "2023", "--format", "xlsx")
    check(rc == 2 and "--out" in err, f"report xlsx without --out: {rc} {err}")

    # ---- mappings --------------------------------------------------------------------------------
    m = ctl.json("mappings", "list")
    check(m and m.get("source") == "config" and m.get("units") == unit_map, f"mappings list: {m and m.get('source')}")
    rc, out, err = ctl.run("mappings", "set", "--unit", "SGDDT.VP=000.99.20.H31", "--procedure", "9.999999=1.000001")
    check(rc == 0, f"mappings set: {rc} {err}")
    m = ctl.json("mappings", "list")
    if m and "units" in m:
        check(m["source"] == "stored" and m["units"]["SGDDT.VP"] == "000.99.20.H31", f"mappings after set: {m['units'].get('SGDDT.VP')}")
        check(len(m["units"]) == len(unit_map) and m["procedures"]["9.999999"] == "1.000001", "mappings set did not merge")
    rc, out, err = ctl.run("mappings", "list")
    check(rc == 0 and "000.99.20.H31" in out and "do quản trị đặt" in out, f"mappings list (human): {out[:300]}")
    rc, out, err = ctl.run("mappings", "set", "--unit", "SGDDT.VP")
    check(rc == 2, f"mappings set with a bad pair: {rc}")

    # ---- configuration reload, audit trail, adapter test (issue 15) ------------------------------
    def write_cfg(name, doc):
        path = os.path.join(work, name)
        json.dump(doc, open(path, "w", encoding="utf-8"), ensure_ascii=False)
        return path

    eff = ctl.json("config", "show", "--effective")
    check(eff and len(eff.get("sha256", "")) == 64 and eff["config"]["storage"]["path"] == db, f"config show --effective: {eff}")
    sha0 = eff["sha256"] if eff else ""
    bad_new = json.loads(json.dumps(cfg))
    bad_new["bogus"] = 1
    bad_new["storage"]["path"] = os.path.join(work, "khac.sqlite")
    bad_new["tagging"] = {"rules_file": os.path.join(work, "khong-co-quy-tac.json")}
    bad_new_path = write_cfg("reload-bad.json", bad_new)
    rc, out, err = ctl.run("config", "reload", bad_new_path)
    check(rc == 4 and "giữ nguyên" in err and "/bogus" in err, f"config reload of an invalid document: {rc} {err}")
    bad_schema_ok = json.loads(json.dumps(cfg))
    bad_schema_ok["storage"]["path"] = os.path.join(work, "khac.sqlite")
    bad_schema_ok["tagging"] = {"rules_file": os.path.join(work, "khong-co-quy-tac.json")}
    bad2_path = write_cfg("reload-bad2.json", bad_schema_ok)
    doc = ctl.json("config", "reload", bad2_path, expect=4)
    errs = {e.get("path"): e.get("code") for e in (doc or {}).get("errors", [])}
    check(errs.get("/storage/path") == "config.not_live" and errs.get("/tagging/rules_file") == "config.invalid",
          f"config reload lists every error with its path and code: {doc}")
    check(not os.path.exists(os.path.join(work, "khac.sqlite")), "a refused reload opened another store")
    rc, out, err = ctl.run("config", "reload", bad2_path, lang="en_US.UTF-8")
    check(rc == 4 and "running one is kept" in err, f"config reload refused (en): {err}")
    rc, out, err = ctl.run("config", "reload", os.path.join(work, "khong-co.json"))
    check(rc == 2, f"config reload of a missing file: {rc} {err}")
    good = json.loads(json.dumps(cfg))
    good["deadlines"] = {"scan_interval_ms": 500}
    good["outbox"]["backoff_cap_ms"] = 800
    good_path = write_cfg("reload-good.json", good)
    dry = ctl.json("config", "reload", good_path, "--dry-run")
    check(dry and dry["valid"] and "/deadlines/scan_interval_ms" in dry["changed"] and "/outbox/backoff_cap_ms" in dry["changed"],
          f"config reload --dry-run: {dry}")
    rc, out, err = ctl.run("--actor", "Lê Văn Tâm", "config", "reload", good_path)
    check(rc == 0 and "Đã áp dụng" in out and "/deadlines/scan_interval_ms" in out, f"config reload: {rc} {out} {err}")
    eff = ctl.json("config", "show", "--effective")
    check(eff and eff["sha256"] == sha0, f"danvanctl closes the plugin: the next open reads the file again: {eff and eff['sha256']}")

    audit = ctl.json("audit", "list", "--limit", "1000")
    items = (audit or {}).get("items", [])
    reloads = [i for i in items if i.get("op") == "config.reload"]
    check(len(reloads) == 5, f"every reload audited (refused, dry run, applied): {len(reloads)} {reloads[:2]}")
    applied = [i for i in reloads if i.get("outcome") == "ok" and not i["details"].get("dry_run")]
    check(applied and applied[0]["actor"] == "Lê Văn Tâm" and applied[0]["details"]["before_sha256"] == sha0
          and applied[0]["details"]["after_sha256"] != sha0, f"applied reload audit entry: {applied}")
    check(any(i.get("op") == "outbox.mappings.set" and i["actor"].startswith("danvanctl:") for i in items),
          f"mappings set audited with the default actor: {[i.get('op') for i in items]}")
    check(any(i.get("op") == "tags.review" and i["actor"] == "Trần Thị Hoa" for i in items), "review decisions audited with --by")
    check(any(i.get("op") == "outbox.resend" and i["outcome"] == "error" and i["status"] == "not_found" for i in items),
          "a refused resend is audited")
    check(password not in json.dumps(audit), "the audit trail holds the portal password")
    rc, out, err = ctl.run("audit", "list", "--op", "config.reload", "--limit", "2")
    check(rc == 0 and "config.reload" in out and "Lê Văn Tâm" in out and "--before-id" in out, f"audit list (human): {out}")
    rc, out, err = ctl.run("audit", "list", "--limit", "0")
    check(rc == 2, f"audit list --limit 0: {rc}")

    rep = ctl.json("adapter", "test")
    check(rep and rep["ok"] and [s_["name"] for s_ in rep["steps"]] == ["dns", "tcp", "tls", "login", "lookup"]
          and all(s_["ok"] for s_ in rep["steps"]), f"adapter test: {rep}")
    rc, out, err = ctl.run("adapter", "test")
    check(rc == 0 and "Kết nối tốt" in out and "bắt tay TLS" in out and "đăng nhập" in out, f"adapter test (human): {rc} {out}")
    wrong = json.loads(json.dumps(cfg))
    wrong["portal"]["envelope"]["password_env"] = "DANVAN_WRONG_PASSWORD"
    os.environ["DANVAN_WRONG_PASSWORD"] = "khong-dung-" + password
    wrong_path = write_cfg("wrong-password.json", wrong)
    rc, out, err = ctl.run("adapter", "test", config=wrong_path)
    check(rc == 1 and "LỖI" in out and "từ chối đăng nhập" in out and "bỏ qua" in out, f"adapter test, wrong password: {rc} {out} {err}")
    check(os.environ["DANVAN_WRONG_PASSWORD"] not in out + err, "adapter test prints the password")
    rc, out, err = ctl.run("adapter", "test", config=wrong_path, lang="en_US.UTF-8")
    check(rc == 1 and "refused the log-in" in out and "FAILED" in out, f"adapter test, wrong password (en): {out}")
    import socket
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    closed_port = sock.getsockname()[1]
    sock.close()
    closed = json.loads(json.dumps(cfg))
    closed["portal"]["base_url"] = f"https://localhost:{closed_port}"
    rep = ctl.json("adapter", "test", config=write_cfg("closed-port.json", closed), expect=1)
    check(rep and rep.get("failed_step") == "tcp" and rep["steps"][0]["ok"] and rep["steps"][2].get("skipped"),
          f"adapter test, closed port: {rep}")

    # ---- a tampered export log -------------------------------------------------------------------
    con = sqlite3.connect(db)
    con.execute("UPDATE export_log SET request_summary = 'sửa lén' WHERE seq = (SELECT MIN(seq) FROM export_log)")
    con.commit()
    con.close()
    v = ctl.json("verify-log", expect=9)
    check(v and not v["valid"] and v["problems"], f"verify-log after tampering: {v}")

    elapsed = time.time() - t0
    print(f"danvanctl test: {elapsed:.1f} s")
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print("danvanctl test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
