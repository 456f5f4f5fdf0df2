#!/usr/bin/env python3
"""Which b-trees a run's commits wrote: WAL frames per commit and per event, by table or index.

Usage (issue 16, sixth step, bench/RESULTS.md):
    strace -f -e trace=pwrite64,fdatasync,fsync -s 8 -xx -o TRACE \\
        build/bench/intake_bench --intake-child threads SAMPLE DB full 3>/dev/null
    python3 bench/wal_pages.py TRACE DB [EVENTS]

SQLite writes each WAL frame as a 24-byte header (page number, then the database size in pages
on a commit's last frame, else 0) and the page (https://www.sqlite.org/fileformat.html#the_write_ahead_log);
strace shows the first 8 bytes of each write. Each header's page is attributed to the b-tree that
owns it in the final database (the dbstat virtual table), so a page that changed owner during the
run (freed, then reused) counts for its last owner. Frames of `?` pages are beyond the final file
or on the free list.
"""
import collections
import re
import sqlite3
import sys


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    trace, db = sys.argv[1], sys.argv[2]
    events = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    owner = {}
    for name, pageno, kind in conn.execute("SELECT name, pageno, pagetype FROM dbstat"):
        owner[pageno] = name if kind == "leaf" else f"{name}:{kind}"
    write = re.compile(r'pwrite64\((\d+), "((?:\\x[0-9a-f]{2})*)"(?:\.\.\.)?, (\d+), (\d+)\)')
    frames = collections.Counter()
    pwrites = syncs = commits = total = 0
    for line in open(trace, errors="replace"):
        if "fdatasync(" in line or "fsync(" in line:
            syncs += 1
            continue
        m = write.search(line)
        if not m:
            continue
        pwrites += 1
        size, offset = int(m.group(3)), int(m.group(4))
        if size != 24 or (offset - 32) % (page_size + 24) != 0:
            continue  # a page, a database write of a checkpoint, or the WAL header
        head = bytes(int(x, 16) for x in m.group(2).split("\\x")[1:])
        page = int.from_bytes(head[0:4], "big")
        frames[owner.get(page, "?")] += 1
        total += 1
        if len(head) >= 8 and int.from_bytes(head[4:8], "big"):
            commits += 1
    per = lambda n, d: f"{n / d:7.3f}" if d else "      -"
    print(f"page size {page_size}; pwrite {pwrites}; fdatasync/fsync {syncs}; WAL frames {total}; "
          f"commits {commits}; frames per commit {per(total, commits).strip()}"
          + (f"; frames per event {per(total, events).strip()}; events per commit {per(events, commits).strip()}"
             if events else ""))
    print(f"  {'b-tree':36s} {'frames':>8s} {'/commit':>7s} {'/event':>7s}")
    for name, n in frames.most_common():
        print(f"  {name:36s} {n:8d} {per(n, commits)} {per(n, events)}")


if __name__ == "__main__":
    main()
