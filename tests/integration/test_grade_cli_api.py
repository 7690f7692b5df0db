"""`codestudio grade` end to end: the real CLI against the real API (over HTTP), batch worker and
sandbox (tests/unit/test_grade_cli.py: the same without a server)."""
from __future__ import annotations

import csv
import io
import json
import os

from click.testing import CliRunner

from app.cli.grade import grade
from tests.support.grade_files import BACKSLASH_REFUSED, SUM, TESTS_YAML, write


def test_grade_against_the_real_api(tmp_path, http_url, user, batch_worker):
    subs = tmp_path / "submissions"
    write(subs / "right.py", SUM)
    write(subs / "wrong.py", "a, b = map(int, input().split())\nprint(a - b)\n")
    write(subs / "multi" / "adder.py", "def add(a, b):\n    return a + b\n")  # sorts before main.py
    write(subs / "multi" / "main.py", "from adder import add\nprint(add(*map(int, input().split())))\n")
    tests = write(tmp_path / "tests.yaml", TESTS_YAML)
    common = ["--tests", str(tests), str(subs), "--url", http_url, "--key", user["key"], "--poll", "0.5"]

    result = CliRunner().invoke(grade, [*common, "--out", str(tmp_path / "report.csv")])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO((tmp_path / "report.csv").read_text())))
    assert rows == [["submission", "status", "compile", "small", "negative", "score", "max_score"],
                    ["multi", "done", "", "accepted", "accepted", "3", "3"],
                    ["right", "done", "", "accepted", "accepted", "3", "3"],
                    ["wrong", "done", "", "wrong_answer", "wrong_answer", "0", "3"]]
    assert "graded 3 submissions x 2 tests: done, mean score 2/3" in result.stderr

    result = CliRunner().invoke(grade, [*common, "--format", "json"])
    assert result.exit_code == 0, result.output
    sheet = json.loads(result.stdout)
    assert sheet["status"] == "done" and sheet["tests"] == ["small", "negative"] and sheet["max_score"] == 3
    assert {r["submission"]: (r["verdicts"], r["score"]) for r in sheet["rows"]} == {
        "multi": ({"small": "accepted", "negative": "accepted"}, 3),
        "right": ({"small": "accepted", "negative": "accepted"}, 3),
        "wrong": ({"small": "wrong_answer", "negative": "wrong_answer"}, 0)}


def test_bad_submission_files_are_skipped_and_the_rest_graded(tmp_path, http_url, user, batch_worker):
    subs = tmp_path / "class"
    write(subs / "right.py", SUM)
    write(subs / "wrong.py", "a, b = map(int, input().split())\nprint(a - b)\n")
    write(subs / "windows" / "main.py", "from util import add\nprint(add(*map(int, input().split())))\n")
    write(subs / "windows" / "lib\\util.py", "def add(a, b):\n    return a + b\n")
    write(subs / os.fsdecode(b"ren\xe9.py"), SUM)
    write(subs / "latin1.py", b"# r\xe9sum\xe9\n" + SUM.encode())
    result = CliRunner().invoke(grade, ["--tests", str(write(tmp_path / "tests.yaml", TESTS_YAML)), str(subs),
                                        "--url", http_url, "--key", user["key"], "--poll", "0.5",
                                        "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = {r["submission"]: (r["verdicts"], r["score"]) for r in json.loads(result.stdout)["rows"]}
    assert rows == {"right": ({"small": "accepted", "negative": "accepted"}, 3),
                    "wrong": ({"small": "wrong_answer", "negative": "wrong_answer"}, 0)}
    skipped = sorted(line for line in result.stderr.splitlines() if line.startswith("skipped "))
    assert skipped == [
        f"skipped {subs}/latin1.py: not UTF-8 text",
        f"skipped {subs}/ren\\xe9.py: the name is not UTF-8",
        f"skipped {subs}/windows/lib\\util.py: the API refuses its name: {BACKSLASH_REFUSED}",
    ], result.stderr
    assert "graded 2 submissions x 2 tests: done" in result.stderr
