"""The studio at `/` in a real browser (Debian's Chromium driven by Playwright) against the real stack:
nginx and gunicorn (`front`) and a worker. Every test fails on a browser console error, an uncaught page
error or a failed request, and saves a screenshot of its last state under the test's tmp dir."""
from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, ConsoleMessage, Page, Response, expect, sync_playwright

from app.web import DIST

CHROMIUM = "/usr/bin/chromium"  # Debian's (scripts/install-toolchains); nothing downloads a browser
WAIT_MS = 60_000  # a compile on a busy machine takes a while: actions and assertions wait this long
expect.set_options(timeout=WAIT_MS)


def launch_browser():
    assert shutil.which(CHROMIUM), f"{CHROMIUM} is missing: scripts/install-toolchains installs Debian's chromium"
    assert (DIST / "manifest.json").is_file(), "the studio is not built: run scripts/build-web (make test does)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def browser():
    yield from launch_browser()


@dataclass
class Studio:
    page: Page
    base: str
    allowed_statuses: set[int] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        status = re.search(r"status of (\d{3})", message.text)
        if status and int(status.group(1)) in self.allowed_statuses:
            return  # Chromium logs every refused fetch; the test expects this refusal
        self.problems.append(f"console error: {message.text}")

    def on_response(self, response: Response) -> None:
        if response.status >= 400 and response.status not in self.allowed_statuses:
            self.problems.append(f"{response.status} from {response.request.method} {response.url}")

    def check(self) -> None:
        assert not self.problems, "\n".join(self.problems)

    def sign_in(self, key: str) -> None:
        self.page.goto(self.base + "/")
        self.page.fill("#api-key", key)
        self.page.click("#sign-in")

    def signed_in(self, key: str) -> None:
        self.sign_in(key)
        expect(self.page.locator("#sign-out")).to_be_visible()
        expect(self.page.locator("#language option[value=python]")).to_have_count(1)

    def write(self, code: str) -> None:
        """Replaces the editor's text as a user would: select all, then type (as one insertion)."""
        self.page.click(".cm-content")
        self.page.keyboard.press("ControlOrMeta+a")
        self.page.keyboard.press("Delete")
        self.page.keyboard.insert_text(code)

    def choose(self, language: str) -> None:
        self.page.select_option("#language", language)

    def result(self):
        return self.page.locator("#output .result")


def open_studio(browser: Browser, base: str, tmp_path: Path):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    studio = Studio(page, base)
    page.on("console", studio.on_console)
    page.on("pageerror", lambda error: studio.problems.append(f"page error: {error}"))
    page.on("requestfailed", lambda r: studio.problems.append(f"request failed: {r.method} {r.url}: {r.failure}"))
    page.on("response", studio.on_response)
    yield studio
    shot = tmp_path / "last-state.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot of the last state: {shot}")
    context.close()


@pytest.fixture
def studio(browser, front, worker, tmp_path):
    """The studio as `make run` serves it: nginx, gunicorn, a worker."""
    yield from open_studio(browser, front.url, tmp_path)


@pytest.fixture
def studio_in_process(browser, http_url, worker, tmp_path):
    """The studio served by this process's app (its tiers can be changed by a test)."""
    yield from open_studio(browser, http_url, tmp_path)


def test_page_is_locked_down_and_assets_are_immutable(front):
    page = requests.get(front.url + "/", timeout=10)
    assert page.status_code == 200
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script>" not in page.text  # no inline script: the page loads one module by its hashed name
    script = re.search(r'src="(/studio/assets/main-[A-Z0-9]+\.js)"', page.text)
    assert script, page.text
    asset = requests.get(front.url + script.group(1), headers={"Accept-Encoding": "gzip"}, timeout=10)
    assert asset.status_code == 200, "nginx passes the studio's assets through"
    assert asset.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert asset.headers["Content-Encoding"] == "gzip"
    assert asset.headers["Content-Type"].startswith("text/javascript")
    assert asset.headers["X-Content-Type-Options"] == "nosniff"
    assert requests.get(front.url + "/studio/assets/manifest.json", timeout=10).status_code == 404
    assert requests.get(front.url + "/studio/assets/../__init__.py", timeout=10).status_code == 404


def test_first_load_is_small():
    import json

    manifest = json.loads((DIST / "manifest.json").read_text())
    print(f"first load: {manifest['first_load_js_gzip_bytes']} bytes of gzipped JS")
    assert manifest["first_load_js_gzip_bytes"] < 300 * 1024


def test_sign_in_run_python_and_java_then_sign_out(studio, user):
    page = studio.page
    studio.signed_in(user["key"])
    expect(page.locator("#tier")).to_have_text("pro tier")
    assert user["key"] not in page.url
    studio.write("print(sum(range(10)))\n")
    page.keyboard.press("ControlOrMeta+Enter")
    expect(studio.result().locator("[data-status]")).to_have_text("success")
    expect(studio.result().locator("[data-stream=stdout]")).to_have_text("45\n")

    studio.choose("java")
    expect(page.locator(".cm-content")).to_contain_text("class Main")  # the language's sample
    expect(page.locator(".cm-line span").first).to_be_visible()  # highlighted: tokens are styled spans
    studio.write('public class Main {\npublic static void main(String[] a) {\nSystem.out.println("java " + a[0]);\n'
                 '}\n}\n')
    page.fill("#args", "works")
    page.click("#run")
    expect(studio.result().locator("[data-status]")).to_have_text("success")
    expect(studio.result().locator("[data-stream=stdout]")).to_have_text("java works\n")
    assert page.evaluate("document.cookie") == ""
    assert page.evaluate("localStorage.length") == 0

    page.click("#sign-out")
    expect(page.locator("#api-key")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0
    studio.check()


def test_a_runtime_error_is_shown_parsed(studio, user):
    studio.signed_in(user["key"])
    studio.write("def f():\n    return 1 / 0\nf()\n")
    studio.page.click("#run")
    expect(studio.result().locator("[data-status]")).to_have_text("error")
    expect(studio.result().locator("[data-error=ZeroDivisionError]")).to_contain_text("division by zero")
    studio.check()


def test_live_terminal_answers_a_prompt_and_history_shows_the_run(studio, user):
    page = studio.page
    studio.signed_in(user["key"])
    sockets, sent = [], []
    page.on("websocket", lambda ws: (sockets.append(ws.url), ws.on("framesent", lambda p: sent.append(json.loads(p)))))
    studio.write('name = input("Name: ")\nprint(f"Hello, {name}!")\n')
    page.click("#run-live")
    rows = page.locator("#terminal .xterm-rows")
    expect(rows).to_contain_text("Name:")
    assert sockets and all(user["key"] not in url for url in sockets)  # the key goes in the first frame only
    assert sent[0] == {"type": "auth", "key": user["key"]}
    assert sent[1]["type"] == "start" and sent[1]["tty"] is True
    page.set_viewport_size({"width": 1100, "height": 760})  # the pane shrinks: the terminal says its size
    for _ in range(100):  # frames arrive through the event loop: wait up to 10 s for the resize
        if any(frame["type"] == "resize" for frame in sent):
            break
        page.wait_for_timeout(100)
    assert any(frame["type"] == "resize" and frame["cols"] > 0 for frame in sent), sent
    page.keyboard.type("Ada")
    page.keyboard.press("Enter")
    expect(rows).to_contain_text("Hello, Ada!")
    expect(studio.result().locator("[data-status]")).to_have_text("success")
    execution = studio.result().get_attribute("data-execution")

    page.click("text=History")
    page.select_option("#filter-language", "python")
    row = page.locator(f"tr[data-execution='{execution}']")
    expect(row).to_contain_text("success")
    page.select_option("#filter-status", "error")
    expect(row).to_have_count(0)
    page.select_option("#filter-status", "success")
    row.locator("a").click()
    expect(page.locator(".result [data-stream=stdout]")).to_contain_text("Hello, Ada!")
    studio.check()


def test_stop_ends_a_live_run(studio, user):
    page = studio.page
    studio.signed_in(user["key"])
    studio.write('import time\nprint("looping", flush=True)\nwhile True:\n    time.sleep(0.1)\n')
    page.click("#run-live")
    expect(page.locator("#terminal .xterm-rows")).to_contain_text("looping")
    page.click("#stop")
    expect(studio.result().locator("[data-status]")).to_have_text(re.compile("error|stopped"))
    expect(page.locator("#run-live")).to_be_enabled()
    studio.check()


PNG_PROGRAM = """\
import struct, zlib
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
raw = b"".join(b"\\x00" + b"\\xff\\x00\\x00" * 8 for _ in range(8))
png = b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
png += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
open("/work/out/red.png", "wb").write(png)
open("/work/out/notes.txt", "w").write("kept")
"""


def test_artifacts_show_images_inline_and_offer_downloads(studio, user):
    page = studio.page
    studio.signed_in(user["key"])
    studio.write(PNG_PROGRAM)
    page.click("#run")
    image = studio.result().locator("[data-artifact='red.png'] img")
    expect(image).to_be_visible()
    assert image.get_attribute("src").startswith("blob:")
    assert image.evaluate("img => img.naturalWidth") == 8
    download_link = studio.result().locator("[data-artifact='notes.txt'] a.download")
    with page.expect_download() as download:
        download_link.click()
    assert Path(download.value.path()).read_text() == "kept"
    studio.check()


def test_a_wrong_key_is_refused(studio):
    studio.allowed_statuses.add(401)
    studio.sign_in("cs_not-a-real-key")
    expect(studio.page.locator("#signin-error")).to_contain_text("not accepted")
    expect(studio.page.locator("#sign-out")).to_have_count(0)
    assert studio.page.evaluate("sessionStorage.length") == 0
    studio.check()


def test_a_rate_limited_run_says_when_to_retry(studio_in_process, make_user, tier):
    studio = studio_in_process
    studio.allowed_statuses.add(429)
    key = make_user(tier("tiny-rate", requests_per_minute=2))["key"]
    studio.signed_in(key)  # the first request of the minute (GET /codestudio/stats)
    studio.write("print(1)\n")
    studio.page.click("#run")  # the second
    expect(studio.result().locator("[data-status]")).to_have_text("success")
    studio.page.click("#run")
    problem = studio.page.locator("#output [data-code=rate_limited]")
    expect(problem).to_contain_text(re.compile(r"Retry in \d+ seconds?"))
    studio.check()


def test_a_quota_refusal_names_the_limit_and_the_tier_that_allows_it(studio_in_process, make_user, tier):
    studio = studio_in_process
    studio.allowed_statuses.add(429)
    key = make_user(tier("tiny-quota", executions_per_day=1))["key"]
    studio.signed_in(key)
    studio.write("print(1)\n")
    studio.page.click("#run")
    expect(studio.result().locator("[data-status]")).to_have_text("success")
    studio.page.click("#run")
    problem = studio.page.locator("#output [data-code=daily_quota_exceeded]")
    expect(problem).to_contain_text("executions_per_day is 1 on the tiny-quota tier")
    expect(problem).to_contain_text("The free tier allows it.")
    expect(problem).to_contain_text(re.compile(r"Retry in \d+ h \d+ min|Retry in \d+ (minutes|seconds)"))
    studio.check()


def test_a_language_without_a_worker_says_so(studio, user):
    studio.allowed_statuses.add(503)
    studio.signed_in(user["key"])
    unavailable = studio.page.locator("#language option[data-available=false]")
    assert unavailable.count() > 0, "every language is served here: no refusal to show"
    studio.choose(unavailable.first.get_attribute("value"))
    expect(studio.page.locator("#language-note")).to_contain_text("no worker serves it right now")
    studio.page.click("#run")
    expect(studio.page.locator("#output [data-code=no_worker]")).to_contain_text("No worker serves this language")
    studio.check()
