#!/usr/bin/env python3
"""Console latency (docs/console.md "Measured"): log-in with 100,000 and 600,000 PBKDF2 rounds,
GET /health, /review, /metrics and POST /api/query {"op":"stats"} on a fresh store, through real
HTTP on loopback. Run: python3 bench/console_latency.py (DANVAN_LIB: the library)."""
import http.client, json, os, re, socket, subprocess, sys, time, urllib.parse, statistics
src = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, src + "/kits/python")
import danvan
def h(pw, it):
    return subprocess.run([src + "/build/plugin/console/danvan-console-passwd", "--iterations", str(it)], input=pw + "\n", text=True, capture_output=True, check=True).stdout.strip()
with socket.socket() as s:
    s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
work = os.path.join(os.environ.get("TMPDIR", "/tmp"), "danvan-console-bench"); subprocess.run(["rm", "-rf", work]); os.makedirs(work)
cfg = {"storage": {"engine": "sqlite", "path": work + "/d.sqlite"}, "schemas_dir": src + "/schemas", "config_dir": src + "/config",
       "console": {"enabled": True, "port": port, "password_min_iterations": 100000,
                   "users": [{"name": "a100k", "role": "admin", "password_hash": h("mat-khau-1", 100000)},
                             {"name": "a600k", "role": "admin", "password_hash": h("mat-khau-1", 600000)}]}}
p = danvan.Plugin(danvan.Library(os.environ.get("DANVAN_LIB", src + "/build/plugin/libdanvan.so")), cfg)
p.start()
def req(method, path, body=None, headers={}):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request(method, path, body=body, headers=headers); r = c.getresponse(); d = r.read(); c.close()
    return r, d
for user in ("a100k", "a600k"):
    ts = []
    for _ in range(5):
        t = time.perf_counter(); r, _ = req("POST", "/login", "username=%s&password=mat-khau-1" % user, {"Content-Type": "application/x-www-form-urlencoded"}); ts.append(time.perf_counter() - t)
    print("login %s: median %.0f ms (5 runs)" % (user, 1000 * statistics.median(ts)))
cookie = r.getheader("Set-Cookie").split(";")[0]
r, d = req("GET", "/health", headers={"Cookie": cookie}); csrf = re.search(rb'csrf-token" content="([0-9a-f]+)"', d).group(1).decode()
for path in ("/health", "/review", "/metrics"):
    ts = []
    for _ in range(50):
        t = time.perf_counter(); req("GET", path, headers={"Cookie": cookie}); ts.append(time.perf_counter() - t)
    ts.sort(); print("GET %s: p50 %.1f ms, p95 %.1f ms (50 runs)" % (path, 1000 * ts[25], 1000 * ts[47]))
ts = []
for _ in range(50):
    t = time.perf_counter(); req("POST", "/api/query", json.dumps({"op": "stats"}), {"Cookie": cookie, "X-CSRF-Token": csrf, "Content-Type": "application/json"}); ts.append(time.perf_counter() - t)
ts.sort(); print("POST /api/query stats: p50 %.1f ms, p95 %.1f ms (50 runs)" % (1000 * ts[25], 1000 * ts[47]))
p.stop(5000); p.close()
