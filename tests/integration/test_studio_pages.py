"""The studio's projects, usage and grading pages in a real browser (Debian's Chromium driven by
Playwright) against the stack as `make run` serves it; the harness is test_studio.py's."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.integration.test_studio import launch_browser, open_studio


@pytest.fixture(scope="module")
def browser():
    yield from launch_browser()


@pytest.fixture
def studio(browser, front, worker, tmp_path):
    yield from open_studio(browser, front.url, tmp_path)


def test_projects_edit_save_reload_run_and_delete(studio, user):
    page = studio.page
    refuse_next: list[bool] = []  # confirm() answers "Cancel" once per entry, then "OK"
    page.on("dialog", lambda dialog: dialog.dismiss() if refuse_next and refuse_next.pop() else dialog.accept())
    studio.signed_in(user["key"])
    page.click("text=Projects")
    page.fill("#project-name", "two-files")
    page.select_option("#project-language", "python")
    page.click("#create-project")
    for name in ("main.py", "util.py"):
        page.fill("#new-file", name)
        page.click("#add-file")
        expect(page.locator("#current-file")).to_have_text(name)
    studio.write("x = 41\n")
    marker = page.locator("li[data-file='util.py'] .unsaved")
    expect(marker).to_be_visible()
    refuse_next.append(True)
    page.click("text=History")  # unsaved: the studio asks, and Cancel stays on the project
    expect(page).to_have_url(re.compile(r"#projects/"))  # the address goes back once the dialog is answered
    expect(marker).to_be_visible()
    page.click(".cm-content")
    page.keyboard.press("ControlOrMeta+s")
    expect(marker).to_have_count(0)
    page.click("li[data-file='main.py'] button.file")
    studio.write("import util\nprint(util.x + 1)\n")
    page.click("#save")
    expect(page.locator("li[data-file='main.py'] .unsaved")).to_have_count(0)

    page.fill("#new-file", "extra.txt")
    page.click("#add-file")
    page.click("li[data-file='extra.txt'] button.rename-file")
    page.fill("li .rename-input", "notes/extra.md")
    page.keyboard.press("Enter")
    expect(page.locator("li[data-file='notes/extra.md']")).to_have_count(1)
    expect(page.locator("li[data-file='extra.txt']")).to_have_count(0)
    page.click("li[data-file='notes/extra.md'] button.delete-file")
    expect(page.locator("li[data-file='notes/extra.md']")).to_have_count(0)

    page.reload()  # the key survives a reload of the tab; the saved files come back from the API
    page.click("li[data-file='util.py'] button.file")
    expect(page.locator(".cm-content")).to_have_text("x = 41")
    page.click("#run-project")
    expect(page.locator("#output [data-stream=stdout]")).to_have_text("42\n")

    page.click("text=← Projects")
    row = page.locator("tr[data-project='two-files']")
    expect(row).to_contain_text("2 files")
    row.locator("button.delete").click()
    expect(row).to_have_count(0)
    studio.check()


def test_usage_shows_the_tier_and_quota_bars(studio, user):
    page = studio.page
    studio.signed_in(user["key"])
    studio.write("print(1)\n")
    page.click("#run")
    expect(studio.result().locator("[data-status]")).to_have_text("success")
    page.click("text=Usage")
    expect(page.locator("#usage-tier")).to_contain_text("pro")
    expect(page.locator("#quota-executions")).to_contain_text("1 of 5000")
    expect(page.locator("#quota-storage .bar")).to_be_visible()
    expect(page.locator(".chart .column")).to_have_count(2)  # one day, one language
    studio.check()


TESTS_YAML = """\
compare: trim
tests:
  - {name: small, stdin: "1 2\\n", expected_output: "3\\n"}
  - {name: negative, stdin: "-5 2\\n", expected_output: "-3\\n", points: 2}
"""
SUM = "a, b = map(int, input().split())\nprint(a + b)\n"


def test_grading_a_small_batch_shows_the_grid_and_the_csv(studio, user, batch_worker, tmp_path):
    import zipfile

    page = studio.page
    (tmp_path / "tests.yaml").write_text(TESTS_YAML)
    (tmp_path / "alice.py").write_text(SUM)
    (tmp_path / "bob.py").write_text("print(3)\n")
    with zipfile.ZipFile(tmp_path / "more.zip", "w") as archive:  # carol: a multi-file submission
        archive.writestr("carol/main.py", "from add import add\nprint(add(*map(int, input().split())))\n")
        archive.writestr("carol/add.py", "def add(a, b):\n    return a + b\n")
    studio.signed_in(user["key"])
    page.click("text=Grading")
    page.select_option("#grade-language", "python")
    page.set_input_files("#grade-tests", str(tmp_path / "tests.yaml"))
    page.set_input_files("#grade-submissions", [str(tmp_path / n) for n in ("alice.py", "bob.py", "more.zip")])
    page.click("#grade")
    expect(page.locator("#grade-progress")).to_be_visible()
    grid = page.locator("#verdicts")
    expect(grid.locator("tr[data-submission=alice] .score")).to_have_text("3 / 3")
    expect(grid.locator("tr[data-submission=carol] .score")).to_have_text("3 / 3")
    expect(grid.locator("tr[data-submission=bob] .score")).to_have_text("1 / 3")
    wrong = grid.locator("tr[data-submission=bob] td[data-test=negative]")
    expect(wrong).to_contain_text("wrong_answer")
    wrong.locator("summary").click()
    expect(wrong.locator("pre")).to_contain_text("-3")
    expect(page.locator("#grade-status")).to_contain_text("done: 6 of 6")
    expect(page.locator("#grade-csv")).to_have_attribute("href", re.compile("^blob:"))
    with page.expect_download() as download:
        page.click("#grade-csv")
    sheet = Path(download.value.path()).read_text()
    assert "submission,status,compile,small,negative,score,max_score" in sheet
    assert "bob,done,,accepted,wrong_answer,1,3" in sheet
    studio.check()
