#!/usr/bin/env python3
"""The admin console in a real browser (headless Chromium through chromedriver and Selenium).

The plugin is loaded with the Python host kit (kits/python, dlopen of libdanvan.so as a host
does) on a fresh SQLite store with the console enabled on a free loopback port. The test logs
in, reads the health page, confirms a letter on the tag review list (and checks the decision is
stored, through the plugin's own query), checks that a hostile record title is shown as text
(no script runs, no element is injected), and that a viewer is refused an admin action.
Screenshots are kept in --workdir as artefacts.

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

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = {
        "storage": {"engine": "sqlite", "path": os.path.join(a.workdir, "danvan.sqlite")},
        "schemas_dir": os.path.join(a.source_root, "schemas"),
        "config_dir": os.path.join(a.source_root, "config"),
        "console": {"enabled": True, "port": port,
                    "users": [{"name": "quantri", "role": "admin", "password_hash": make_hash("Quản-trị-2023")},
                              {"name": "lanhdao", "role": "viewer", "password_hash": make_hash("Lãnh-đạo-2023")}]},
    }
    lib = danvan.Library(a.lib)
    plugin = danvan.Plugin(lib, config)
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
        assert driver.find_element(By.ID, "records").text == "2", driver.find_element(By.ID, "records").text
        assert driver.find_element(By.ID, "queue-depth").text == "0"
        assert "quantri" in driver.find_element(By.ID, "who").text

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
