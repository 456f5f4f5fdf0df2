#!/usr/bin/env python3
"""gen_city.py --jobs N gives the serial output byte for byte (issue 16, the 10M city data set).

Generates a small city (20,000 events: 2 departments x 5 years, 10 shards) once serially and
once with 3 worker processes (more workers than a 2-core machine, so shards finish out of
order), and compares the JSONL, the unit hierarchy and the manifest (apart from its own path).

Usage: gen_city_test.py --source ROOT --workdir DIR
"""
import argparse
import filecmp
import json
import os
import shutil
import subprocess
import sys


def gen(source, out, jobs):
    subprocess.run([sys.executable, os.path.join(source, "tools", "sample-gen", "gen_city.py"),
                    "--out", out, "--events", "20000", "--seed", "7", "--jobs", str(jobs)],
                   check=True, stderr=subprocess.DEVNULL)
    base = out[:-len(".jsonl")]
    with open(base + ".manifest.json", encoding="utf-8") as f:
        m = json.load(f)
    m.pop("units_file")
    return base, m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", required=True)
    ap.add_argument("--workdir", required=True)
    a = ap.parse_args()
    shutil.rmtree(a.workdir, ignore_errors=True)
    os.makedirs(a.workdir)
    serial, ms = gen(a.source, os.path.join(a.workdir, "serial.jsonl"), 1)
    par, mp = gen(a.source, os.path.join(a.workdir, "par.jsonl"), 3)
    failures = []
    if ms["shards"] != 10 or ms["events"] < 15000:
        failures.append(f"unexpected serial manifest {ms}")
    if not filecmp.cmp(serial + ".jsonl", par + ".jsonl", shallow=False):
        failures.append("events differ between --jobs 1 and --jobs 3")
    if not filecmp.cmp(serial + ".units.json", par + ".units.json", shallow=False):
        failures.append("unit hierarchies differ")
    if ms != mp:
        failures.append(f"manifests differ: {ms} vs {mp}")
    leftovers = [n for n in os.listdir(a.workdir) if n.startswith("danvan-city-")]
    if leftovers:
        failures.append(f"temporary directories left: {leftovers}")
    for f in failures:
        print("FAIL:", f)
    if not failures:
        shutil.rmtree(a.workdir, ignore_errors=True)
        print(f"ok: {ms['events']} events, {ms['shards']} shards, identical with 3 workers")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
