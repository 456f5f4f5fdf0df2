#!/usr/bin/env python3
"""The admin console in a real browser (headless Chromium through chromedriver and Selenium).

The plugin is loaded with the Python host kit (kits/python, dlopen of libdanvan.so as a host
does) on a fresh SQLite store filled with the sample generator's events (tools/sample-gen), the
console enabled on a free loopback port, and export configured towards a closed port (every
send fails once and, with max_attempts 1, becomes a dead letter). The test logs in, reads the
health page, reads the ranking (which must not write the scoring journal) and stores a score
explicitly, drills down from every indicator on the page to the records behind its figure,
starts a re-tagging and follows its progress bar to 100%, confirms a letter on the tag review
list (and checks the decision is stored, through the plugin's own query), re-sends a dead
letter, checks that a hostile record title is shown as text (no script runs, no element is
injected), that a viewer is refused an admin action, and downloads the .docx draft (checked by
unzip and an XML parse) with the report's progress bar at 100%. Screenshots are kept in
--workdir as artefacts.

Exit 77 (ctest SKIP_RETURN_CODE) only when chromium, chromedriver or python3-selenium is
genuinely missing; scripts/install-deps.sh installs them.
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time

SKIP = 77


def find_browser():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--passwd", required=True)
    ap.add_argument("--source-root", required=True)
    ap.add_argument("--workdir", required=True)
    a = ap.parse_args()

    browser = find_browser()
    driver_path = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else None)
    missing = []
    if not browser:
        missing.append("chromium (Debian package chromium)")
    if not driver_path:
        missing.append("chromedriver (Debian package chromium-driver)")
    try:
        from selenium import webdriver  # noqa: F401
    except ImportError:
        # Debian's python3-selenium lives in the system interpreter; another python3 first on
        # the PATH (pyenv, a virtualenv) does not see it: run again under /usr/bin/python3.
        system = "/usr/bin/python3"
        if os.path.exists(system) and os.path.realpath(sys.executable) != os.path.realpath(system) \
                and not os.environ.get("DANVAN_BROWSER_TEST_REEXEC"):
            os.environ["DANVAN_BROWSER_TEST_REEXEC"] = "1"
            os.execv(system, [system] + sys.argv)
        missing.append("selenium (Debian package python3-selenium)")
    if missing:
        print("SKIP: the real-browser console test needs " + ", ".join(missing) +
              "; run scripts/install-deps.sh", file=sys.stderr)
        return SKIP
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    sys.path.insert(0, os.path.join(a.source_root, "kits", "python"))
    import danvan

    shutil.rmtree(a.workdir, ignore_errors=True)
    os.makedirs(a.workdir)

    def make_hash(password):
        out = subprocess.run([a.passwd, "--iterations", "100000"], input=password + "\n", text=True,
                             capture_output=True, check=True)
        return out.stdout.strip()

    def free_port():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]
    port = free_port()
    closed_port = free_port()  # nothing listens: every export attempt fails
    root = a.source_root
    sample = os.path.join(a.workdir, "sample.jsonl")
    subprocess.run([sys.executable, os.path.join(root, "tools/sample-gen/gen_sample.py"), "--out", sample,
                    "--count-scale", "0.03", "--bad-share", "0"], check=True, capture_output=True)
    units = json.load(open(os.path.join(root, "config/units/haiphong-sgddt.json"), encoding="utf-8"))["units"]
    procs = [p["code"] for p in json.load(open(os.path.join(root, "config/procedures.json"), encoding="utf-8"))["procedures"]]
    events = []  # the sample's lines as they are (a few are deliberately malformed: rejected)
    for line in open(sample, encoding="utf-8", errors="replace"):
        events.append(line.rstrip("\n"))
        try:
            ev = json.loads(line, strict=False)
        except ValueError:
            continue
        d = ev.get("data") if isinstance(ev, dict) else None
        if isinstance(d, dict) and isinstance(d.get("MaTTHC"), str) and d["MaTTHC"] and d["MaTTHC"] not in procs:
            procs.append(d["MaTTHC"])
    config = {
        "storage": {"engine": "sqlite", "path": os.path.join(a.workdir, "danvan.sqlite"), "synchronous": "normal"},
        "schemas_dir": os.path.join(root, "schemas"),
        "config_dir": os.path.join(root, "config"),
        "log": {"level": "error"},
        "portal": {"style": "envelope", "base_url": "http://127.0.0.1:%d" % closed_port,
                   "default_madonvi": "000.00.20.H31", "insecure_test_only": True,
                   "envelope": {"username": "motcua-sgddt", "password_env": "DANVAN_BROWSER_TEST_PORTAL_PASSWORD",
                                "dstcode": "VN:GOV:H31"}},
        "outbox": {"senders": 1, "max_attempts": 1, "backoff_base_ms": 50, "backoff_cap_ms": 200,
                   "synthesize_progress": False,
                   "mappings": {"units": {u["code"]: u.get("portal_code", "000.%02d.20.H31" % i) for i, u in enumerate(units)},
                                "procedures": {c: c for c in procs}}},
        "console": {"enabled": True, "port": port,
                    "users": [{"name": "quantri", "role": "admin", "password_hash": make_hash("Quản-trị-2023")},
                              {"name": "lanhdao", "role": "viewer", "password_hash": make_hash("Lãnh-đạo-2023")}]},
    }
    os.environ["DANVAN_BROWSER_TEST_PORTAL_PASSWORD"] = "not-a-real-password"
    lib = danvan.Library(a.lib)
    plugin = danvan.Plugin(lib, config)
    for i in range(0, len(events), 500):
        plugin.submit_batch(events[i:i + 500])
    hostile = "<script>window.__xss=1</script><img src=x id=injected onerror=\"window.__xss=2\"> \"đơn\" & 'x'"

    def petition(pid, title, content):
        return {"kind": "petition", "source": "motcua-hp", "id": pid, "unit": "SGDDT.TTRA", "version": 1,
                "event_time": "2023-04-03T10:00:00+07:00",
                "data": {"title": title, "content": content, "received_at": "2023-04-03", "status": "received"}}

    plugin.submit(petition("DT-XSS-1", hostile, "Tôi khiếu nại việc nhà trường thu tiền học thêm trái quy định."))
    plugin.submit(petition("DT-R-1", "", "Xin gặp."))  # too short to read: goes on the review list
    review = plugin.query("tags.review", action="list")
    assert any(i["key"]["id"] == "DT-R-1" for i in review["items"]), review
    plugin.start()

    downloads = os.path.join(a.workdir, "downloads")
    os.makedirs(downloads)
    opts = webdriver.ChromeOptions()
    opts.binary_location = browser
    opts.add_experimental_option("prefs", {"download.default_directory": downloads,
                                           "download.prompt_for_download": False})
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1600", "--lang=vi"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=opts)
    # Headless Chromium saves downloads only where it is told to through the DevTools protocol.
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": downloads})
    base = "http://127.0.0.1:%d" % port
    step = "start"
    try:
        wait = WebDriverWait(driver, 20)

        def shot(name):
            driver.save_screenshot(os.path.join(a.workdir, name + ".png"))

        def login(user, password):
            driver.get(base + "/login")
            driver.find_element(By.NAME, "username").send_keys(user)
            driver.find_element(By.NAME, "password").send_keys(password)
            driver.find_element(By.CSS_SELECTOR, "#login button").click()
            wait.until(lambda d: d.current_url.endswith("/health"))

        step = "login"
        driver.get(base + "/health")
        assert driver.current_url.endswith("/login"), driver.current_url
        driver.find_element(By.NAME, "username").send_keys("quantri")
        driver.find_element(By.NAME, "password").send_keys("sai mật khẩu")
        driver.find_element(By.CSS_SELECTOR, "#login button").click()
        wait.until(lambda d: d.find_elements(By.ID, "login-error"))
        assert "Sai tên đăng nhập" in driver.find_element(By.ID, "login-error").text
        login("quantri", "Quản-trị-2023")

        step = "health"
        shot("health")
        assert "Tình trạng hệ thống" in driver.find_element(By.TAG_NAME, "h1").text
        assert driver.find_element(By.ID, "version").text.strip() != ""
        records = plugin.query("stats")["records"]
        assert driver.find_element(By.ID, "records").text == str(records), driver.find_element(By.ID, "records").text
        assert driver.find_element(By.ID, "queue-depth").text.isdigit()
        assert "quantri" in driver.find_element(By.ID, "who").text

        step = "ranking"
        # Reading the ranking computes scores and stores nothing; "Chấm điểm và lưu" stores one.
        def journalled_scores():
            # No op lists the scoring journal: read the store itself (read-only, WAL readers
            # do not block the plugin).
            import sqlite3
            db = sqlite3.connect("file:%s?mode=ro" % config["storage"]["path"], uri=True)
            try:
                return db.execute("SELECT count(*) FROM journal WHERE kind = 'score'").fetchone()[0]
            finally:
                db.close()
        driver.get(base + "/indicators?period=2023")
        rows = driver.find_elements(By.CSS_SELECTOR, "#ranking tr")[1:]
        assert len(rows) > 3, len(rows)
        assert rows[0].find_elements(By.TAG_NAME, "td")[0].text == "1", rows[0].text
        assert driver.find_elements(By.CSS_SELECTOR, "svg.chart rect")
        shot("ranking")
        driver.refresh()
        assert journalled_scores() == 0, "viewing the ranking wrote the scoring journal"
        driver.find_element(By.CSS_SELECTOR, "form.score-save button").click()
        wait.until(lambda d: journalled_scores() == 1)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#ranking"))

        step = "drill-down"
        # Every indicator on the page opens the records behind its figure.
        driver.get(base + "/indicators?period=2023")
        figures = []
        for tr in driver.find_elements(By.CSS_SELECTOR, "#indicators tr")[1:]:
            td = tr.find_elements(By.TAG_NAME, "td")
            figures.append((td[0].text, td[2].text, td[3].text,
                            td[5].find_element(By.TAG_NAME, "a").get_attribute("href")))
        assert len(figures) >= 10, len(figures)
        with_records = 0
        for ind_id, numerator, denominator, href in figures:
            driver.get(href)
            assert ("Hồ sơ sau chỉ số " + ind_id) in driver.find_element(By.TAG_NAME, "h1").text, ind_id
            assert not driver.find_elements(By.CSS_SELECTOR, "div.error"), (ind_id, driver.page_source[:500])
            assert driver.find_element(By.ID, "figure-numerator").text == numerator, (ind_id, numerator)
            assert driver.find_element(By.ID, "figure-denominator").text == denominator, (ind_id, denominator)
            listed = driver.find_elements(By.CSS_SELECTOR, "#numerator-records tr")[1:]
            count = int(driver.find_element(By.ID, "numerator-count").text)
            assert len(listed) == min(count, 500), (ind_id, len(listed), count)
            if listed and not driver.find_elements(By.ID, "figure-note") and count <= 500:
                total = sum(float(r.find_element(By.CSS_SELECTOR, "td.value").text) for r in listed)
                assert abs(total - float(numerator)) < 1e-6, (ind_id, total, numerator)
                with_records += 1
            if with_records == 1 and listed:
                shot("drill-down")
        assert with_records >= 3, with_records

        step = "progress"
        driver.get(base + "/health")
        driver.find_element(By.CSS_SELECTOR, "form.retag button").click()
        wait.until(lambda d: d.find_element(By.ID, "job-retag").get_attribute("data-state") == "done")
        text = driver.find_element(By.CSS_SELECTOR, "#job-retag .progress-text").text
        assert text.startswith("%d/%d (100%%)" % (records, records)), text
        bar = driver.find_element(By.CSS_SELECTOR, "#job-retag progress")
        assert bar.get_attribute("value") == bar.get_attribute("max") == str(records), bar.get_attribute("value")
        shot("retag-progress")
        job = [j for j in plugin.query("progress")["jobs"] if j["job"] == "retag"][0]
        assert job["state"] == "done" and job["done"] == job["total"] == records, job

        step = "review"
        driver.get(base + "/review")
        row = driver.find_element(By.CSS_SELECTOR, "#review tr[data-id='DT-R-1']")
        assert not driver.find_elements(By.CSS_SELECTOR, "#decided tr[data-id='DT-R-1']")
        row.find_element(By.NAME, "why").send_keys("Đã đọc lại: công dân xin gặp lãnh đạo")
        row.find_element(By.CSS_SELECTOR, "form.confirm button").click()
        # Stored and applied: the page reloads with the letter off the list and among the decided.
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#decided tr[data-id='DT-R-1']"))
        assert not driver.find_elements(By.CSS_SELECTOR, "#review tr[data-id='DT-R-1']")
        assert "quantri" in driver.find_element(By.CSS_SELECTOR, "#decided tr[data-id='DT-R-1']").text
        shot("review-confirmed")
        decided = plugin.query("tags.review", action="list", decided=True)
        mine = [i for i in decided["items"] if i["key"]["id"] == "DT-R-1"]
        assert mine and mine[0]["decision"]["by"] == "quantri", decided
        assert mine[0]["decision"]["action"] == "confirm", mine

        step = "dead-letter"
        # Every dossier's first send fails (nothing listens): dead letters, re-sent from the page.
        deadline = time.time() + 60
        while not plugin.query("outbox.dead_letters", limit=1)["items"] and time.time() < deadline:
            time.sleep(0.2)
        driver.get(base + "/outbox")
        form = driver.find_element(By.CSS_SELECTOR, "#dead-letters form[data-op='outbox.resend']")
        letter = int(form.find_element(By.NAME, "id").get_attribute("value"))
        form.find_element(By.TAG_NAME, "button").click()
        # The page reloads itself after the answer: read the letter's row afresh each time.
        row_text = """
            const rows = document.querySelectorAll('#dead-letters tr');
            for (const tr of rows) { const td = tr.querySelector('td');
              if (td && td.textContent === arguments[0]) return tr.textContent; }
            return '';"""
        wait.until(lambda d: "đã gửi lại" in d.execute_script(row_text, str(letter)))
        shot("dead-letter-resent")
        mine = []
        offset = 0
        while not mine:
            page = plugin.query("outbox.dead_letters", limit=1000, offset=offset)["items"]
            if not page:
                break
            mine = [d for d in page if d["id"] == letter]
            offset += len(page)
        assert mine and mine[0]["resent_at"], mine

        step = "escaping"
        driver.get(base + "/petitions")
        shot("petitions")
        assert "DT-XSS-1" in driver.page_source
        assert driver.execute_script("return window.__xss === undefined"), "a script from a record ran"
        assert not driver.find_elements(By.ID, "injected"), "an element from a record was injected"
        assert "<script>window.__xss=1</script>" in driver.find_element(By.ID, "overdue").text

        step = "viewer"
        driver.find_element(By.CSS_SELECTOR, "form.logout button").click()
        wait.until(lambda d: d.current_url.endswith("/login"))
        login("lanhdao", "Lãnh-đạo-2023")
        driver.get(base + "/outbox")
        assert not driver.find_elements(By.CSS_SELECTOR, "form[data-op='outbox.resend']")
        status = driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            const token = document.querySelector('meta[name="csrf-token"]').content;
            fetch('/api/query', {method: 'POST', headers: {'Content-Type': 'application/json', 'X-CSRF-Token': token},
                                 body: JSON.stringify({op: 'outbox.resend', id: 1})})
              .then(r => r.json().then(j => done([r.status, j.errors[0].code])));""")
        assert status == [403, "console.forbidden"], status
        driver.get(base + "/indicators?period=2023")
        shot("indicators-viewer")
        assert driver.find_elements(By.ID, "ranking")
        assert not driver.find_elements(By.CSS_SELECTOR, "form.score-save"), "a viewer is offered to store a score"
        assert journalled_scores() == 1

        step = "docx"
        driver.get(base + "/reports")
        from selenium.webdriver.support.ui import Select
        Select(driver.find_element(By.NAME, "format")).select_by_value("docx")
        driver.find_element(By.CSS_SELECTOR, "#report-form button").click()
        want = os.path.join(downloads, "du-thao-bao-cao-6-thang-2023.docx")
        deadline = time.time() + 60
        while not os.path.exists(want) and time.time() < deadline:
            time.sleep(0.2)
        assert os.path.exists(want), os.listdir(downloads)
        import xml.dom.minidom
        import zipfile
        with zipfile.ZipFile(want) as z:
            assert z.testzip() is None
            doc = z.read("word/document.xml").decode("utf-8")
        xml.dom.minidom.parseString(doc)  # well-formed
        for text in ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "Nơi nhận:", "Lưu: VT."):
            assert text in doc, text
        assert "{{" not in doc
        driver.get(base + "/reports")
        wait.until(lambda d: d.find_element(By.ID, "job-report").get_attribute("data-state") == "done")
        assert "(100%)" in driver.find_element(By.CSS_SELECTOR, "#job-report .progress-text").text
        shot("report-progress")
    except Exception as e:  # noqa: BLE001
        driver.save_screenshot(os.path.join(a.workdir, "failure.png"))
        print("FAILED at step %s: %r" % (step, e), file=sys.stderr)
        raise
    finally:
        driver.quit()
        plugin.stop(5000)
        plugin.close()
    print("console browser test passed; screenshots in", a.workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
