#!/usr/bin/env python3
"""The straightforward alternative to the plugin's intake, for bench/intake_bench.cc.

Parses each line of a JSON Lines file and upserts it into SQLite by record key (source, kind,
id), 1,000 per transaction, WAL, synchronous FULL or NORMAL; lines that are not a JSON object
with source, kind and id go to a rejects table. No schema validation, tagging, deadlines,
indicators, history or outbox. Prints one JSON line: events, upserted, rejected, seconds (wall,
the loop only), cpu_seconds (this process, the loop only), maxrss_kb.

Usage: python_upsert.py SAMPLE.jsonl DB.sqlite full|normal
"""
import json
import resource
import sqlite3
import sys
import time


def main():
    sample, db_path, sync = sys.argv[1], sys.argv[2], sys.argv[3]
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=" + ("FULL" if sync == "full" else "NORMAL"))
    db.execute("CREATE TABLE IF NOT EXISTS records (source TEXT NOT NULL, kind TEXT NOT NULL, "
               "rid TEXT NOT NULL, unit TEXT, version INTEGER, event_time TEXT, data TEXT, "
               "received_ms INTEGER NOT NULL, PRIMARY KEY (source, kind, rid))")
    db.execute("CREATE TABLE IF NOT EXISTS rejects (id INTEGER PRIMARY KEY, raw TEXT NOT NULL, "
               "received_ms INTEGER NOT NULL)")
    upsert = ("INSERT INTO records (source, kind, rid, unit, version, event_time, data, received_ms) "
              "VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (source, kind, rid) DO UPDATE SET "
              "unit=excluded.unit, version=excluded.version, event_time=excluded.event_time, "
              "data=excluded.data, received_ms=excluded.received_ms")
    events = upserted = rejected = 0
    t0, c0 = time.monotonic(), time.process_time()
    with open(sample, "r", encoding="utf-8", errors="replace") as f:
        batch = []

        def flush():
            nonlocal upserted, rejected
            now = int(time.time() * 1000)
            db.execute("BEGIN")
            for line in batch:
                try:
                    e = json.loads(line)
                    key = (e["source"], e["kind"], str(e["id"]))
                except (ValueError, KeyError, TypeError):
                    db.execute("INSERT INTO rejects (raw, received_ms) VALUES (?,?)", (line, now))
                    rejected += 1
                    continue
                db.execute(upsert, key + (e.get("unit"), e.get("version"), e.get("event_time"),
                                          json.dumps(e.get("data"), ensure_ascii=False), now))
                upserted += 1
            db.execute("COMMIT")
            batch.clear()

        for line in f:
            if not line.strip():
                continue
            batch.append(line)
            events += 1
            if len(batch) == 1000:
                flush()
        if batch:
            flush()
    seconds, cpu = time.monotonic() - t0, time.process_time() - c0
    db.close()
    print(json.dumps({"events": events, "upserted": upserted, "rejected": rejected,
                      "seconds": seconds, "cpu_seconds": cpu,
                      "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))


if __name__ == "__main__":
    main()
