#!/usr/bin/env python3
"""City-scale record events for danvan: many departments over five years (issue 16).

Scales tools/sample-gen/gen_sample.py (one department, one year) to a city: the department's
unit tree is copied once per department (codes D01, D01.VP, D01.GDTRH, ... under a city root
HP), and gen_sample's generator runs once per (year, department) shard with a seed derived from
--seed, the year's holidays read from config/calendar/<year>.json and per-department sources
(motcua-d01, pakn-dvcqg-d01, thidua-d01) so that record keys never collide between shards.

Writes:
  OUT                     JSON Lines, shards in order (year, then department); within a shard
                          events are in delivery order, so every record's versions stay in order
  OUT minus .jsonl + .units.json     the city unit hierarchy (schemas/units.schema.json) that an
                                     engine must load (indicators.units_file) to accept the units
  OUT minus .jsonl + .manifest.json  totals: events, accepted per kind, duplicate, stale,
                                     rejected, records per kind, shards

Streaming: one shard (about events / shards lines) is buffered at a time by gen_sample's
month-bucket writer in a temporary directory next to OUT, then appended to OUT; memory stays
bounded by one shard whatever --events is. Deterministic: the same --seed, --events,
--departments and --years give byte-identical output. Standard library only.

  python3 tools/sample-gen/gen_city.py --out /tmp/city/10m.jsonl --events 10000000
"""

import argparse
import copy
import json
import multiprocessing
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_sample as gs  # noqa: E402  (the single-department generator, patched per shard)

ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
CALENDAR_DIR = os.path.join(ROOT, "config", "calendar")
# Events per unit of gen_sample's --count-scale (measured: 13,781 events at 1.0, 100,401 at 7.3).
EVENTS_PER_SCALE = 13_760
CITY_ROOT = "HP"


def city_units(dept_doc, departments):
    """The city hierarchy: a root HP and `departments` copies of dept_doc's tree."""
    src_root = next(u["code"] for u in dept_doc["units"] if u["parent"] is None)
    units = [{"code": CITY_ROOT, "name": "Ủy ban nhân dân thành phố Hải Phòng", "parent": None,
              "type": "other", "valid_from": "2008-01-01", "valid_to": None,
              "short_name": "UBND thành phố"}]
    per_dept = []
    for k in range(1, departments + 1):
        code = f"D{k:02d}"
        doc = []
        for u in dept_doc["units"]:
            c = copy.deepcopy(u)
            c["code"] = code + u["code"][len(src_root):]
            if u["parent"] is None:
                c["parent"] = CITY_ROOT
                c["name"] = f"{u['name']} (đơn vị mẫu {k:02d})"
            else:
                c["parent"] = code + u["parent"][len(src_root):]
            doc.append(c)
        units.extend(doc)
        # gen_sample wants the department as the root (parent null) of its own tree.
        local = copy.deepcopy(doc)
        local[0 if doc[0]["parent"] == CITY_ROOT else 0]["parent"] = None
        for c in local:
            if c["parent"] == CITY_ROOT:
                c["parent"] = None
        per_dept.append((code, {"units": local}))
    city = {"hierarchy_id": "city-bench", "name": "Thành phố mẫu cho đo hiệu năng (issue 16)",
            "version": f"bench.{departments}",
            "source": "Sinh bởi tools/sample-gen/gen_city.py từ " + dept_doc.get("hierarchy_id", "")
                      + ": dữ liệu giả lập cho đo hiệu năng, không phải danh mục chính thức.",
            "units": units}
    return city, per_dept


def year_holidays(year):
    """Non-working weekdays of `year` from config/calendar/<year>.json (the engine's calendar)."""
    with open(os.path.join(CALENDAR_DIR, f"{year}.json"), encoding="utf-8") as f:
        doc = json.load(f)
    import datetime as dt
    out = set()
    for d in doc.get("days", []):
        if d.get("type") in ("holiday", "compensatory_off", "swapped_off", "off"):
            out.add(dt.date.fromisoformat(d["date"]))
    return out


class ShardGenerator(gs.Generator):
    """gen_sample's generator for one (year, department): plan tasks get the year's dates."""

    def __init__(self, seed, scale, units_doc, year):
        super().__init__(seed, scale, units_doc)
        self.year = year

    def gen_plan_tasks(self):
        # The seed plan's tasks are written with 2023 dates; shift them to this shard's year.
        orig = self.emit_good
        y = str(self.year).encode()
        y1 = str(self.year + 1).encode()

        def shifted(event, deliver_at=None):
            line = gs.dumps(event).replace(b"2024", b"\x00").replace(b"2023", y).replace(b"\x00", y1)
            line = line.replace(b"@@@@", y)  # the plan's id (PLAN_ID below) names its own year
            ev = json.loads(line)
            return orig(ev, None)

        self.emit_good = shifted
        try:
            super().gen_plan_tasks()
        finally:
            self.emit_good = orig


def set_year(year):
    import datetime as dt
    gs.YEAR = year
    gs.YEAR_START = dt.datetime(year, 1, 1, tzinfo=gs.VN)
    gs.CUTOFF = dt.datetime(year, 12, 31, 23, 59, 59, tzinfo=gs.VN)
    gs.HOLIDAYS_2023 = year_holidays(year) | (year_holidays(year + 1) if os.path.exists(
        os.path.join(CALENDAR_DIR, f"{year + 1}.json")) else set())


def gen_shard(task):
    """Generates one (year, department) shard into tmpdir; returns (its path, its manifest).

    Sets every gen_sample global the generator reads, so the result depends on the task only
    (safe in any worker process, in any order)."""
    yi, year, di, code, doc, seed, scale, bad_share, tmpdir = task
    set_year(year)
    low = code.lower()
    gs.SRC_ONESTOP = f"motcua-{low}"
    gs.SRC_PAKN = f"pakn-dvcqg-{low}"
    gs.SRC_DVK = f"thidua-{low}"
    gs.PLAN_ID = f"KH-DV-@@@@-{code}"  # the year is put in after the date shift
    shard_path = os.path.join(tmpdir, f"shard-{yi}-{di}.jsonl")
    g = ShardGenerator(seed * 1_000_003 + yi * 1009 + di, scale, doc, year)
    m = g.run(shard_path, os.path.join(tmpdir, f"shard-{yi}-{di}.manifest.json"), bad_share)
    return shard_path, m


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=2023)
    ap.add_argument("--out", required=True, help="output JSONL file")
    ap.add_argument("--events", type=int, default=10_000_000, help="target number of events")
    ap.add_argument("--departments", type=int, default=0,
                    help="departments (default: events/500k, between 2 and 20)")
    ap.add_argument("--years", default="2023-2027",
                    help="first-last year (default 2023-2027: the years config/calendar covers)")
    ap.add_argument("--bad-share", type=float, default=0.03)
    ap.add_argument("--units", default=gs.DEFAULT_UNITS, help="one department's unit hierarchy")
    ap.add_argument("--jobs", type=int, default=1,
                    help="worker processes generating shards (output identical to --jobs 1)")
    args = ap.parse_args(argv)
    if args.events <= 0:
        ap.error("--events must be positive")
    y0, y1 = (int(x) for x in args.years.split("-"))
    years = list(range(y0, y1 + 1))
    depts = args.departments or max(2, min(20, args.events // 500_000))
    base = args.out[:-6] if args.out.endswith(".jsonl") else args.out
    with open(args.units, encoding="utf-8") as f:
        dept_doc = json.load(f)
    city, per_dept = city_units(dept_doc, depts)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(base + ".units.json", "w", encoding="utf-8") as f:
        json.dump(city, f, ensure_ascii=False, indent=1)
        f.write("\n")

    shards = len(years) * len(per_dept)
    scale = args.events / (shards * EVENTS_PER_SCALE)
    totals = {"events": 0, "accepted": 0, "accepted_by_kind": {}, "duplicate": 0, "stale": 0,
              "rejected": 0, "records": {}}
    tmpdir = tempfile.mkdtemp(prefix="danvan-city-", dir=os.path.dirname(os.path.abspath(args.out)))
    tasks = [(yi, year, di, code, doc, args.seed, scale, args.bad_share, tmpdir)
             for yi, year in enumerate(years) for di, (code, doc) in enumerate(per_dept)]
    try:
        with open(args.out, "wb") as out:
            # Shards are independent (each sets every module global it reads and has its own
            # seeded RNG), so --jobs N worker processes give the serial output byte for byte:
            # results come back in task order and are appended in that order.
            pool = None
            if args.jobs > 1:
                pool = multiprocessing.get_context("fork").Pool(args.jobs)
                results = pool.imap(gen_shard, tasks, chunksize=1)
            else:
                results = map(gen_shard, tasks)
            try:
                for (yi, year, di, code, *_), (shard_path, m) in zip(tasks, results):
                    with open(shard_path, "rb") as f:
                        shutil.copyfileobj(f, out, 1 << 20)
                    os.remove(shard_path)
                    e = m["expected"]
                    totals["events"] += m["events"]
                    totals["accepted"] += e["accepted"]
                    totals["duplicate"] += e["duplicate"]
                    totals["stale"] += e["stale"]
                    totals["rejected"] += e["rejected"]
                    for k, v in e["accepted_by_kind"].items():
                        totals["accepted_by_kind"][k] = totals["accepted_by_kind"].get(k, 0) + v
                    for k, v in m["records"].items():
                        totals["records"][k] = totals["records"].get(k, 0) + v
                    print(f"shard {year} {code}: {m['events']} events (total {totals['events']})",
                          file=sys.stderr, flush=True)
            finally:
                if pool is not None:
                    pool.terminate()
                    pool.join()
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    manifest = {"generator": "tools/sample-gen/gen_city.py", "seed": args.seed,
                "target_events": args.events, "departments": depts, "years": [y0, y1],
                "shards": shards, "count_scale_per_shard": scale,
                "units_file": base + ".units.json", "units": len(city["units"]), **totals}
    with open(base + ".manifest.json", "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"{totals['events']} events -> {args.out} ({depts} departments x {len(years)} years, "
          f"{sum(totals['records'].values())} records)", file=sys.stderr)


if __name__ == "__main__":
    main()
