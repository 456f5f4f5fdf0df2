#!/usr/bin/env python3
"""City-scale benchmark (issue 16): one command, any scale.

  python3 bench/city_bench.py --scale 10000000            # the 10M-event city
  python3 bench/city_bench.py --scale 100000 --work /tmp/city-ci   # CI-sized, same stages

Stages, in this order (each one's figures are kept in WORK/results.json as soon as it ends, so
a run that is stopped resumes where it was; --force STAGE,... runs stages again):

  gen       tools/sample-gen/gen_city.py: SCALE events, departments x 2023-2027, fixed seed
            (--gen-jobs N: N processes, byte-identical output)
  python    baseline: bench/python_upsert.py (parse + upsert, 1,000 per transaction, FULL)
  insert    baseline: a plain prepared INSERT of each line (C, 1,000 per transaction, FULL;
            --insert-limit N: the first N events only)
  intake    the plugin through its ABI (bench/city_tool intake): submit_batch of 1,000 events,
            synchronous FULL, every stage of the plugin's work; a fresh database
  open      open of the database intake left (timed twice: the first one after the run, then
            again), with the plugin's RSS after open and the index's own size
  queries   the indicators op: one leaf unit x one month (all 52 indicators; 2,000 queries),
            every unit x one month, the city root x one year, drill-down (indicators.explain);
            steady RSS after them
  groupby   baseline: SQL GROUP BY on the plugin's own records table for one figure
  reports   score and rank, both reports (six-month and annual) in every format, one year
  submit8   8 host threads submitting single events (group commit), first 20,000 events,
            fresh database; with --baseline-lib also the library before issue 16 on a fresh
            database in the same run (the ratio of the 5x target), and with --submit8-full the
            same events, their ids suffixed so that they are new records, into the database
            intake left (single submits into the full city); --submit8-rounds N alternates them
  retag     re-tagging every record (tagging.reload, --retag-rules PACK or the configured
            pack), through the ABI, with one-unit queries timed beside it (the host's calls
            while it runs) and before it; then the sample check: the events of 1 record in
            --retag-sample-mod (by key hash; kept in WORK/retag-sample.jsonl) taken into a fresh
            database must give every sampled record the tags the re-tagged database holds
            (also checked before the re-tagging: how many it had to change)

The library and city_tool are copied into WORK/bin at the start of each invocation, so a
rebuild during a long run does not change what is measured; the commit is recorded.
Results: WORK/results.json and WORK/results.md (the table for bench/RESULTS.md).
"""
import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
STAGES = ["gen", "python", "insert", "intake", "open", "queries", "groupby", "reports", "submit8", "retag"]
YEARS = (2023, 2027)


def log(msg):
    print(f"[{dt.datetime.utcnow():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


def run_json(cmd, **kw):
    """Runs cmd, echoes its stderr, returns (parsed last stdout line, child's rusage CPU s)."""
    log("$ " + " ".join(cmd))
    before = os.times()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, **kw)
    after = os.times()
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[0]} {cmd[1] if len(cmd) > 1 else ''} failed ({p.returncode})")
    lines = [ln for ln in p.stdout.splitlines() if ln.strip()]
    out = json.loads(lines[-1])
    out["child_cpu_s"] = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return out


def machine():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    cpu = ln.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = 0
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return {"cpu": cpu, "cpus": os.cpu_count(), "mem_mib": mem, "kernel": platform.release(),
            "loadavg_start": os.getloadavg()}


def rm_db(path):
    for suffix in ("", "-wal", "-shm"):
        try:
            os.remove(path + suffix)
        except FileNotFoundError:
            pass


def db_size(path):
    return sum(os.path.getsize(path + s) for s in ("", "-wal") if os.path.exists(path + s))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=int, required=True, help="events (10000000 for the city)")
    ap.add_argument("--work", help="work directory (default /tmp/danvan-city/SCALE)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="build directory")
    ap.add_argument("--stages", default=",".join(STAGES), help="comma-separated subset")
    ap.add_argument("--force", default="", help="stages to run again even if done")
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--insert-limit", type=int, default=0,
                    help="events for the plain-INSERT baseline (default all; its database is ~2 KB "
                         "per event, 20 GB at 10M: limit it on a small disk)")
    ap.add_argument("--seed", type=int, default=2023)
    ap.add_argument("--gen-jobs", type=int, default=1,
                    help="processes generating shards (gen_city.py --jobs; same output as 1)")
    ap.add_argument("--departments", type=int, default=0,
                    help="departments of the city (default: gen_city's, events/500k between 2 and 20)")
    ap.add_argument("--baseline-lib", default="",
                    help="submit8: the library before issue 16 (f31cbd3), on a fresh database in the same run")
    ap.add_argument("--submit8-full", action="store_true",
                    help="submit8: also into the database intake left (ids suffixed: new records)")
    ap.add_argument("--submit8-rounds", type=int, default=1)
    ap.add_argument("--retag-rules", default="", help="retag: the rule pack to load (default: the configured one)")
    ap.add_argument("--retag-sample-mod", type=int, default=0,
                    help="retag: sample 1 record in N for the tag check (default scale / 20,000; 0 = the default)")
    args = ap.parse_args()
    work = os.path.abspath(args.work or f"/tmp/danvan-city/{args.scale}")
    os.makedirs(work, exist_ok=True)
    results_path = os.path.join(work, "results.json")
    results = json.load(open(results_path)) if os.path.exists(results_path) else {}
    wanted = [s for s in args.stages.split(",") if s]
    force = set(s for s in args.force.split(",") if s)
    for s in wanted:
        if s not in STAGES:
            ap.error(f"unknown stage {s}")

    def save():
        with open(results_path + ".tmp", "w") as f:
            json.dump(results, f, indent=1)
        os.replace(results_path + ".tmp", results_path)
        write_markdown(results, os.path.join(work, "results.md"))

    # Frozen copies of what is measured.
    bin_dir = os.path.join(work, "bin")
    os.makedirs(bin_dir, exist_ok=True)
    lib_src = os.path.join(args.build, "plugin", "libdanvan.so")
    tool_src = os.path.join(args.build, "bench", "city_tool")
    lib = os.path.join(bin_dir, "libdanvan.so")
    tool = os.path.join(bin_dir, "city_tool")
    shutil.copy2(os.path.realpath(lib_src), lib)
    shutil.copy2(tool_src, tool)
    commit = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], stdout=subprocess.PIPE,
                            text=True).stdout.strip()
    results.setdefault("runs", []).append({"started": dt.datetime.utcnow().isoformat(timespec="seconds") + "Z",
                                           "commit": commit, "stages": wanted, "machine": machine(),
                                           "command": " ".join(sys.argv)})
    results["scale"] = args.scale
    save()

    events = os.path.join(work, "events.jsonl")
    units_file = os.path.join(work, "events.units.json")
    manifest_path = os.path.join(work, "events.manifest.json")
    db = os.path.join(work, "danvan.sqlite")
    config_path = os.path.join(work, "config.json")

    def config_for(db_path, path):
        cfg = {"storage": {"engine": "sqlite", "path": db_path, "synchronous": "full"},
               "schemas_dir": os.path.join(ROOT, "schemas"), "config_dir": os.path.join(ROOT, "config"),
               "indicators": {"units_file": units_file},
               "reports": {"dir": os.path.join(work, "reports")},
               "limits": {"max_batch_events": 10000},
               "stop_timeout_ms": 600000,
               "log": {"level": "warn"}}
        with open(path, "w") as f:
            json.dump(cfg, f)
        return path

    def done(stage):
        return stage in results and stage not in force

    for stage in wanted:
        if done(stage):
            log(f"{stage}: done before (--force {stage} to run again)")
            continue
        log(f"{stage}: start")
        t0 = time.monotonic()
        if stage == "gen":
            m = json.load(open(manifest_path)) if os.path.exists(manifest_path) else None
            if not (m and m.get("target_events") == args.scale and m.get("seed") == args.seed
                    and (not args.departments or m.get("departments") == args.departments)
                    and os.path.exists(events)):
                subprocess.run([sys.executable, os.path.join(ROOT, "tools", "sample-gen", "gen_city.py"),
                                "--out", events, "--events", str(args.scale), "--seed", str(args.seed),
                                "--departments", str(args.departments), "--jobs", str(args.gen_jobs)], check=True)
                m = json.load(open(manifest_path))
            r = {k: m[k] for k in ("events", "accepted", "accepted_by_kind", "duplicate", "stale", "rejected",
                                   "records", "departments", "years", "units")}
            r["bytes"] = os.path.getsize(events)
        elif stage == "intake":
            rm_db(db)
            config_for(db, config_path)
            r = run_json(["nice", "-n", "0", tool, "intake", lib, config_path, events, "1000"])
            r["db_bytes"] = db_size(db)
        elif stage == "open":
            config_for(db, config_path)
            r = {"first": run_json([tool, "open", lib, config_path]),
                 "second": run_json([tool, "open", lib, config_path])}
        elif stage == "queries":
            r = run_json([tool, "queries", lib, config_path, str(YEARS[0]), str(YEARS[1]), str(args.queries)])
            # The SQL baseline in the same run (same machine load), for the ratios.
            r["sql"] = run_json([tool, "groupby", db, "auto", "2025", "3"])
            r["sql"]["month"] = "2025-03"
        elif stage == "groupby":
            r = run_json([tool, "groupby", db, "auto", "2025", "3"])
            r["month"] = "2025-03"
        elif stage == "reports":
            r = run_json([tool, "reports", lib, config_path, "2025"])
        elif stage == "python":
            pdb = os.path.join(work, "python_upsert.sqlite")
            rm_db(pdb)
            log(f"$ python_upsert.py {events}")
            p = subprocess.run([sys.executable, os.path.join(HERE, "python_upsert.py"), events, pdb, "full"],
                               stdout=subprocess.PIPE, text=True, check=True)
            r = json.loads(p.stdout.strip().splitlines()[-1])
            r["events_per_cpu_s"] = r["events"] / r["cpu_seconds"]
            r["events_per_wall_s"] = r["events"] / r["seconds"]
            r["db_bytes"] = db_size(pdb)
            rm_db(pdb)
        elif stage == "insert":
            idb = os.path.join(work, "plain_insert.sqlite")
            rm_db(idb)
            r = run_json([tool, "insert", events, idb] + ([str(args.insert_limit)] if args.insert_limit else []))
            r["db_bytes"] = db_size(idb)
            rm_db(idb)
        elif stage == "submit8":
            sdb = os.path.join(work, "submit8.sqlite")
            scfg = config_for(sdb, os.path.join(work, "config-submit8.json"))
            n = str(min(args.scale, 20000))

            def fresh(library):
                rm_db(sdb)
                out = run_json([tool, "submit8", library, scfg, events, "8", n])
                out["loadavg"] = os.getloadavg()
                rm_db(sdb)
                return out

            rounds = []
            for k in range(max(1, args.submit8_rounds)):
                rd = {}
                if args.baseline_lib:
                    blib = os.path.join(bin_dir, "baseline-" + os.path.basename(args.baseline_lib))
                    shutil.copy2(os.path.realpath(args.baseline_lib), blib)
                    rd["baseline_fresh"] = fresh(blib)
                rd["fresh"] = fresh(lib)
                if args.submit8_full:
                    config_for(db, config_path)
                    # A suffix new to the database in every round, so the events are new records.
                    suffix = "-s8-" + dt.datetime.utcnow().strftime("%H%M%S") + f"-{k}"
                    rd["full"] = run_json([tool, "submit8", lib, config_path, events, "8", n, suffix])
                    rd["full"]["loadavg"] = os.getloadavg()
                    rd["full"]["db_bytes"] = db_size(db)
                if "baseline_fresh" in rd:
                    rd["ratio_fresh_to_baseline_wall"] = rd["fresh"]["events_per_wall_s"] / rd["baseline_fresh"]["events_per_wall_s"]
                    if "full" in rd:
                        rd["ratio_full_to_baseline_wall"] = rd["full"]["events_per_wall_s"] / rd["baseline_fresh"]["events_per_wall_s"]
                rounds.append(rd)
            r = dict(rounds[0]["fresh"])  # the figures of the first round, as before
            r["rounds"] = rounds
            r["baseline_lib"] = args.baseline_lib
        elif stage == "retag":
            config_for(db, config_path)
            sample = os.path.join(work, "retag-sample.jsonl")
            mod = args.retag_sample_mod or max(1, args.scale // 20000)
            if not os.path.exists(sample):
                run_json([tool, "tagsample", events, str(mod), sample + ".tmp"])
                os.replace(sample + ".tmp", sample)
            fdb = os.path.join(work, "tagcheck-fresh.sqlite")
            fcfg = config_for(fdb, os.path.join(work, "config-tagcheck.json"))
            if args.retag_rules:
                # The fresh database tags with the pack the re-tagging loads.
                c = json.load(open(fcfg))
                c["tagging"] = {"rules_file": os.path.abspath(args.retag_rules)}
                with open(fcfg, "w") as f:
                    json.dump(c, f)

            def tagcheck():
                rm_db(fdb)
                p = subprocess.run([tool, "tagcheck", lib, config_path, fcfg, sample], stdout=subprocess.PIPE, text=True)
                rm_db(fdb)
                if p.returncode not in (0, 2):
                    raise RuntimeError(f"tagcheck failed ({p.returncode})")
                return json.loads(p.stdout.strip().splitlines()[-1])

            before = tagcheck()
            r = run_json([tool, "retag", lib, config_path] + ([os.path.abspath(args.retag_rules)] if args.retag_rules else []))
            r["tagcheck_before"] = before
            r["tagcheck_after"] = tagcheck()
            r["sample_mod"] = mod
        r["stage_wall_s"] = time.monotonic() - t0
        r["commit"] = commit
        r["finished"] = dt.datetime.utcnow().isoformat(timespec="seconds") + "Z"
        r["loadavg_end"] = os.getloadavg()
        results[stage] = r
        save()
        log(f"{stage}: {json.dumps(r)[:400]}")
    log(f"results: {results_path}, {os.path.join(work, 'results.md')}")


def fmt(v, digits=0):
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return f"{v:,}"


def write_markdown(r, path):
    rows = []
    g = r.get("gen")
    lines = [f"# City-scale benchmark, scale {r.get('scale'):,} events", ""]
    if r.get("runs"):
        last = r["runs"][-1]
        m = last["machine"]
        lines += [f"- command: `{last['command']}` (commit {last['commit']})",
                  f"- machine: {m['cpus']} × {m['cpu']}, {m['mem_mib']:,} MiB, Linux {m['kernel']}, "
                  f"load average at start {m['loadavg_start'][0]:.1f}", ""]
    if g:
        lines += [f"- data: {g['events']:,} events ({g['bytes'] / 1e9:.2f} GB JSONL), {sum(g['records'].values()):,} "
                  f"records, {g['departments']} departments × {g['years'][0]}–{g['years'][1]}, {g['units']} units; "
                  f"accepted {g['accepted']:,}, duplicate {g['duplicate']:,}, stale {g['stale']:,}, "
                  f"rejected {g['rejected']:,}", ""]
    lines += ["| stage | figure | ratio |", "|---|---|---|"]
    i, py, ins = r.get("intake"), r.get("python"), r.get("insert")
    if i:
        ratio = []
        if py:
            ratio.append(f"{i['events_per_cpu_s'] / py['events_per_cpu_s']:.2f}× Python upsert")
        if ins:
            ratio.append(f"{i['events_per_cpu_s'] / ins['events_per_cpu_s']:.3f}× plain INSERT")
        lines.append(f"| intake, batches of 1,000 (FULL) | {fmt(i['events_per_cpu_s'])} events/CPU-s, "
                     f"{fmt(i['events_per_wall_s'])} events/s wall ({fmt(i['wall_s'])} s), peak RSS "
                     f"{i['peak_rss_kb'] / 1024:.0f} MiB, DB {i['db_bytes'] / 1e9:.2f} GB | {', '.join(ratio)} (per CPU-s) |")
    if py:
        lines.append(f"| baseline: Python upsert (FULL) | {fmt(py['events_per_cpu_s'])} events/CPU-s, "
                     f"{fmt(py['events_per_wall_s'])} events/s wall | 1 |")
    if ins:
        lines.append(f"| baseline: plain INSERT in C (FULL) | {fmt(ins['events_per_cpu_s'])} events/CPU-s, "
                     f"{fmt(ins['events_per_wall_s'])} events/s wall | — |")
    s8 = r.get("submit8")
    if s8 and s8.get("rounds"):
        for k, rd in enumerate(s8["rounds"], 1):
            for name, label in (("baseline_fresh", "library before issue 16, fresh database"),
                                ("fresh", "fresh database"), ("full", "into the full database (new records)")):
                x = rd.get(name)
                if not x:
                    continue
                ratio = ""
                if name != "baseline_fresh" and rd.get("baseline_fresh"):
                    ratio = f"**{x['events_per_wall_s'] / rd['baseline_fresh']['events_per_wall_s']:.2f}×** the library before issue 16 (wall)"
                lines.append(f"| 8 threads, single submits, round {k}, {label} ({fmt(x['events'])} events, "
                             f"load {x['loadavg'][0]:.1f}) | {fmt(x['events_per_wall_s'])} events/s wall, "
                             f"{fmt(x['events_per_cpu_s'])} events/CPU-s, peak RSS {x['peak_rss_kb'] / 1024:.0f} MiB | {ratio} |")
    elif s8:
        ratio = f"{s8['events_per_wall_s'] / i['events_per_wall_s']:.2f}× batch wall rate" if i else ""
        lines.append(f"| 8 threads, single submits ({fmt(s8['events'])} events) | {fmt(s8['events_per_wall_s'])} "
                     f"events/s wall, {fmt(s8['events_per_cpu_s'])} events/CPU-s | {ratio} |")
    o = r.get("open")
    if o:
        for k in ("first", "second"):
            x = o[k]
            ix = x.get("indicators_index") or {}
            lines.append(f"| open ({k}) | {x['open_s']:.3f} s wall, {x['open_cpu_s']:.3f} s CPU; RSS after open "
                         f"{x['rss_after_open_kb'] / 1024:.0f} MiB (before {x['rss_before_kb'] / 1024:.0f}); index "
                         f"{ix.get('series_keys', 0):,} keys, {(ix.get('series_bytes', 0) + ix.get('action_list_bytes', 0)) / 2**20:.1f} MiB; "
                         f"pending {ix.get('checkpoint_pending', '?')} | target ≤ 1 s |")
    q, gb = r.get("queries"), r.get("groupby")
    if q:
        # The SQL baseline taken in the queries stage's own run, else the groupby stage's.
        sql = q.get("sql") or gb

        def ratio_to_sql(label, key, wall_us, cpu_us, target=""):
            # key: "one_unit" | "all_units" (the SQL figures KEY_s and KEY_cpu_s).
            if not sql:
                return ""
            sql_s, sql_cpu_s = sql[key + "_s"], sql[key + "_cpu_s"]
            return (f"{label} {sql_s:,.3f} s → **{sql_s * 1e6 / wall_us:,.0f}×** wall "
                    f"({sql_cpu_s * 1e6 / cpu_us:,.0f}× CPU{target})")

        one = q["one_unit_month"]
        ratio = ratio_to_sql("SQL one unit (median of warm runs)", "one_unit", one["median_us"], q["one_unit_month_cpu_us_mean"], "; target ≥ 1,000×")
        lines.append(f"| indicators, one leaf unit × month, 52 indicators ({one['n']} queries) | median "
                     f"**{one['median_us']:,.0f} µs**, p99 {one['p99_us']:,.0f} µs, CPU mean "
                     f"{q['one_unit_month_cpu_us_mean']:,.0f} µs | {ratio} |")
        au = q["all_units_month"]
        ratio = ratio_to_sql("SQL GROUP BY all units", "all_units", au["median_us"], q["all_units_month_cpu_us_mean"])
        lines.append(f"| indicators, all {q['units']} units × month | median {au['median_us'] / 1e3:,.1f} ms wall, "
                     f"{q['all_units_month_cpu_us_mean'] / 1e3:,.1f} ms CPU | {ratio} |")
        lines.append(f"| indicators, city root × year | median {q['root_year']['median_us']:,.0f} µs | |")
        if q["drill_down"]:
            lines.append(f"| drill-down (indicators.explain `{q['drill_down_indicator']}`) | median "
                         f"{q['drill_down']['median_us'] / 1e3:,.1f} ms, p99 {q['drill_down']['p99_us'] / 1e3:,.1f} ms | |")
        lines.append(f"| memory: plugin RSS steady (after open + queries) | **{q['rss_steady_kb'] / 1024:.0f} MiB** "
                     f"(process before open {q['rss_before_open_kb'] / 1024:.0f} MiB), peak {q['peak_rss_kb'] / 1024:.0f} MiB | target ≤ 100 MB |")
    gb = (q or {}).get("sql") or gb
    if gb:
        lines.append(f"| baseline: SQL, one unit × month (`{gb['unit']}`, {gb['month']}, count {gb['one_unit_count']}) | "
                     f"{gb['one_unit_s'] * 1e3:,.0f} ms wall, {gb['one_unit_cpu_s'] * 1e3:,.0f} ms CPU | |")
        lines.append(f"| baseline: SQL GROUP BY unit, one month | {gb['all_units_s']:,.2f} s wall, "
                     f"{gb['all_units_cpu_s']:,.2f} s CPU | |")
    rp = r.get("reports")
    if rp:
        lines.append(f"| score and rank (one year) | {rp['score_s']:,.2f} s | |")
        lines.append(f"| six-month and annual reports, every format | {rp['six_month_all_formats_s']:,.2f} s + "
                     f"{rp['annual_all_formats_s']:,.2f} s, peak RSS {rp['peak_rss_kb'] / 1024:.0f} MiB | |")
    rt = r.get("retag")
    if rt:
        during = ""
        if "rss_max_sampled_kb" in rt:
            during = (f" (before re-tagging {rt['rss_before_retag_kb'] / 1024:.0f} MiB, at most "
                      f"{rt['rss_max_sampled_kb'] / 1024:.0f} MiB sampled during it, process before open "
                      f"{rt['rss_process_before_open_kb'] / 1024:.0f} MiB)")
        lines.append(f"| re-tagging every record | {fmt(rt['processed'])} records in {rt['wall_s']:,.0f} s wall "
                     f"({rt['processed'] / max(rt['wall_s'], 1e-9):,.0f}/s), {rt.get('cpu_s', 0):,.1f} s CPU, "
                     f"{rt['changed']:,} changed, peak RSS {rt['peak_rss_kb'] / 1024:.0f} MiB{during} | target ≤ 100 MB |")
        qi, qd = rt.get("query_idle"), rt.get("query_during_retag")
        if qi and qd:
            lines.append(f"| one-unit query beside the re-tagging ({qd['n']} queries, one every 5 ms) | median "
                         f"{qd['median_us']:,.0f} µs, p99 {qd['p99_us']:,.0f} µs, max {qd['max_us'] / 1e3:,.1f} ms | "
                         f"before it: median {qi['median_us']:,.0f} µs, p99 {qi['p99_us']:,.0f} µs |")
        for when in ("before", "after"):
            tc = rt.get("tagcheck_" + when)
            if tc:
                lines.append(f"| tags of a sample (1 record in {rt.get('sample_mod', '?')}) against a fresh tagging, {when} "
                             f"the re-tagging | {tc['equal']:,} of {tc['compared']:,} records equal ({tc['with_tags']:,} with "
                             f"tags), {tc['different']:,} different, {tc['in_one_database_only']} in one database only | |")
    lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines + rows))


if __name__ == "__main__":
    main()
