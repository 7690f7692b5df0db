"""`codestudio grade` without a server: tests-file parsing, submission discovery, key resolution,
and the client's requests against canned answers (tests/integration/test_grade_cli_api.py: the
real CLI against the real API)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from codestudio_client import Client

from app.cli.grade import grade, resolve_key
from app.cli.grade_submissions import discover_submissions, entry_first
from app.cli.grade_tests_file import MAX_FILE_BYTES, load_tests
from tests.support.fake_http import response, serve
from tests.support.grade_files import BACKSLASH_REFUSED, SUM, TESTS_YAML, write

# tests file


def test_yaml_list_of_tests(tmp_path):
    tests, defaults = load_tests(write(tmp_path / "t.yml", "- {name: a, expected_output: '1'}\n"
                                                           "- {name: 2, stdin: x, expected_output: 2.5}\n"))
    assert defaults == {}
    assert tests == [{"name": "a", "expected_output": "1"}, {"name": "2", "stdin": "x", "expected_output": "2.5"}]


def test_yaml_mapping_with_defaults(tmp_path):
    tests, defaults = load_tests(write(tmp_path / "tests.yaml", TESTS_YAML))
    assert defaults == {"language": "python", "compare": "trim", "limits": {"timeout": 5}}
    assert [t["name"] for t in tests] == ["small", "negative"]
    assert tests[0]["expected_output"] == "3" and tests[1]["points"] == 2


def test_json_tests_file(tmp_path):
    body = {"tests": [{"name": "t", "stdin": "", "expected_output": "ok\n"}], "abs_tol": 0.01}
    tests, defaults = load_tests(write(tmp_path / "tests.JSON", json.dumps(body)))
    assert tests == body["tests"] and defaults == {"abs_tol": 0.01}


@pytest.mark.parametrize("name, text, message", [
    ("t.yaml", "name: a\nexpected_output: b\n", "needs `tests:`"),
    ("t.yaml", "tests: []\n", "non-empty list"),
    ("t.yaml", "- {name: a, stdin: x}\n", "test #1 must be a mapping with `name` and `expected_output`"),
    ("t.yaml", "- just a string\n", "test #1 must be a mapping"),
    ("t.yaml", "tests: [{name: a, expected_output: b}]\ntimeout: 3\n1: x\n", "unknown: 1, timeout"),
    ("t.yaml", "tests: [{name: a, expected_output: b}]\nlimits: 5\n", "limits: a mapping"),
    ("t.yaml", "- {name: a, expected_output: [1]}\n", "expected_output must be text"),
    ("t.yaml", "- {name: a, expected_output: b\n", "cannot read"),
    ("t.json", "[{'name': 'a'}]", "cannot read"),
    ("t.yaml", b"- {name: \xff, expected_output: b}\n", "cannot read"),
])
def test_invalid_tests_files_are_clear_errors(tmp_path, name, text, message):
    with pytest.raises(click.BadParameter, match=message):
        load_tests(write(tmp_path / name, text))


def alias_bomb(field: str) -> str:
    """A test whose `args` or `limits` nest nine levels of nine aliases each: about 550 bytes that
    stand for 9**9 (387 million) strings."""
    levels = ["&a0 [" + ", ".join(["xxxxxxxx"] * 9) + "]"]
    levels += [f"&a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    value = "[" + ", ".join(levels) + "]"
    value = f"{{timeout: {value}}}" if field == "limits" else value
    return f"tests:\n  - {{name: t, expected_output: '1', {field}: {value}}}\n"


@pytest.mark.parametrize("name, text, message", [
    ("bomb-args.yaml", alias_bomb("args"), r"line \d+, column \d+: holds more than 100000 values once its aliases"),
    ("bomb-limits.yaml", alias_bomb("limits"), "holds more than 100000 values once its aliases are followed"),
    ("deep.yaml", "[" * 100_000, r"line 1, column 33: nested deeper than 32 levels$"),
    ("deep-map.yaml", "a:\n" + "".join(" " * i + "b:\n" for i in range(1, 200)), "nested deeper than 32 levels"),
    ("deep-alias.yaml", "x: &x " + "[" * 30 + "1" + "]" * 30 + "\ntests: [[[*x]]]\n",
     "nested deeper than 32 levels once its aliases are followed"),
    ("loop.yaml", "tests: &t [{name: a, expected_output: b, args: *t}]\n",
     "an alias refers to a value that contains it"),
    ("deep.json", "[" * 100_000, "JSON nested deeper than 64 levels"),
    ("huge.json", '{"tests": [], "x": "' + "y" * MAX_FILE_BYTES + '"}', "larger than 8 MiB"),
    ("long-int.yaml", "- {name: a, expected_output: b, points: " + "9" * 5000 + "}\n", "cannot read .*digits"),
])
def test_hostile_tests_files_are_refused_quickly(tmp_path, name, text, message):
    started = time.process_time()
    with pytest.raises(click.BadParameter) as refused:
        load_tests(write(tmp_path / name, text))
    assert time.process_time() - started < 1.0
    assert re.search(message, refused.value.message) and "\n" not in refused.value.message, refused.value.message


def test_anchors_within_bounds_still_work(tmp_path):
    text = ("limits: &fast {timeout: 2}\ntests:\n"
            "  - {name: a, expected_output: '1', limits: *fast, args: &two [x, y]}\n"
            "  - {name: b, expected_output: '2', limits: *fast, args: *two}\n")
    with pytest.raises(click.BadParameter, match="a mapping needs `tests:`"):
        load_tests(write(tmp_path / "t.yaml", "anchors: &a [1]\n" + text))  # unknown keys are still refused
    tests, defaults = load_tests(write(tmp_path / "t.yaml", text))
    assert defaults == {"limits": {"timeout": 2}} and [t["args"] for t in tests] == [["x", "y"], ["x", "y"]]
    assert tests[1]["limits"] == {"timeout": 2}


def test_the_cli_prints_one_line_errors_not_tracebacks(tmp_path):
    write(tmp_path / "subs" / "a.py", SUM)
    for tests_file in (write(tmp_path / "deep.yaml", "[" * 100_000), write(tmp_path / "deep.json", "{" * 100_000),
                       write(tmp_path / "bomb.yaml", alias_bomb("args"))):
        result = CliRunner().invoke(grade, ["--tests", str(tests_file), str(tmp_path / "subs"), "--key", "k",
                                            "--url", "http://127.0.0.1:9"])
        assert result.exit_code == 2, result.output  # a usage error; an exception would exit 1
        errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and f"cannot read {tests_file}" in errors[0], result.stderr
        assert "Traceback" not in result.output


# submissions directory



def ids_and_files(discovered):
    return {s["id"]: s.get("code") if "code" in s else [f["name"] for f in s["files"]]
            for s in discovered.submissions}


def test_files_and_directories_become_submissions(tmp_path):
    write(tmp_path / "alice.py", "print(1)")
    write(tmp_path / "bob.txt", "print(2)")
    write(tmp_path / "carol" / "a_util.py", "x = 1")
    write(tmp_path / "carol" / "main.py", "import a_util")
    write(tmp_path / "carol" / "pkg" / "deep.py", "y = 2")
    write(tmp_path / "dave" / "b.py", "")
    write(tmp_path / "dave" / "lib" / "main.py", "")
    write(tmp_path / "dave" / "Main.py", "")
    write(tmp_path / "erin" / "zeta.py", "")
    write(tmp_path / "erin" / "alpha.py", "")
    assert ids_and_files(discover_submissions(tmp_path, "main.py")) == {
        "alice": "print(1)", "bob": "print(2)",
        "carol": ["main.py", "a_util.py", "pkg/deep.py"],  # the language's entry name first
        "dave": ["Main.py", "b.py", "lib/main.py"],  # else a main/Main stem, the shallowest
        "erin": ["alpha.py", "zeta.py"],  # else the first by name
    }
    carol = next(s for s in discover_submissions(tmp_path, "main.py").submissions if s["id"] == "carol")
    assert carol["files"][0] == {"name": "main.py", "content": "import a_util"}


def test_entry_first_without_a_known_language():
    assert entry_first(["b.java", "Main.java"], None) == ["Main.java", "b.java"]
    assert entry_first(["Main.java", "x/Main.java"], "Main.java") == ["Main.java", "x/Main.java"]


def test_hidden_files_and_symlinks_are_skipped(tmp_path):
    outside = write(tmp_path / "outside" / "secret.py", "print('secret')")
    subs = tmp_path / "subs"
    write(subs / "ann.py", "print(1)")
    write(subs / ".hidden.py", "print(2)")
    write(subs / "ben" / "main.py", "print(3)")
    write(subs / "ben" / ".git" / "config", "x")
    write(subs / "ben" / ".env", "x")
    (subs / "linked.py").symlink_to(outside)
    (subs / "linked-dir").symlink_to(outside.parent)
    (subs / "ben" / "leak.py").symlink_to(outside)
    (subs / "ben" / "leakdir").symlink_to(outside.parent)
    os.mkfifo(subs / "pipe")
    assert ids_and_files(discover_submissions(subs, "main.py")) == {"ann": "print(1)", "ben": ["main.py"]}


def test_submissions_the_api_would_refuse_are_skipped_naming_the_file(tmp_path):
    write(tmp_path / "ok.py", "print(1)")
    write(tmp_path / "dir" / "bad.py", b"print('\xff')")
    write(tmp_path / "win" / "main.py", "print(2)")
    write(tmp_path / "win" / "lib\\util.py", "x = 1")
    write(tmp_path / "raw" / "main.py", "print(3)")
    write(tmp_path / os.fsdecode(b"raw") / os.fsdecode(b"caf\xe9.py"), "x = 1")
    write(tmp_path / os.fsdecode(b"\xe9tudiant.py"), "print(4)")
    write(tmp_path / "many" / "main.py", "")
    for i in range(32):
        write(tmp_path / "many" / f"m{i}.py", "")
    discovered = discover_submissions(tmp_path, "main.py")
    assert ids_and_files(discovered) == {"ok": "print(1)"}
    assert sorted(map(str, discovered.skipped)) == [
        f"skipped {tmp_path}/\\xe9tudiant.py: the name is not UTF-8",
        f"skipped {tmp_path}/dir/bad.py: not UTF-8 text",
        f"skipped {tmp_path}/many: 33 files; a submission may have at most 32",
        f"skipped {tmp_path}/raw/caf\\xe9.py: the file name is not UTF-8",
        f"skipped {tmp_path}/win/lib\\util.py: the API refuses its name: {BACKSLASH_REFUSED}",
    ]
    with pytest.raises(click.BadParameter, match="no submissions"):
        discover_submissions(write(tmp_path / "empty" / ".keep", "").parent, "main.py")
    only_bad = tmp_path / "only-bad"
    write(only_bad / "x.py", b"\xff")
    with pytest.raises(click.BadParameter, match=r"no submissions in .*only-bad; skipped .*x\.py: not UTF-8 text"):
        discover_submissions(only_bad, "main.py")


# API key


def test_key_resolution_order(tmp_path, monkeypatch):
    monkeypatch.setenv("CODESTUDIO_API_KEY", "from-env")
    write(tmp_path / "instance" / "dev-api-key", "from-file\n")
    assert resolve_key("from-flag", tmp_path) == "from-flag"
    assert resolve_key(None, tmp_path) == "from-env"
    monkeypatch.delenv("CODESTUDIO_API_KEY")
    assert resolve_key(None, tmp_path) == "from-file"
    monkeypatch.chdir(tmp_path)
    assert resolve_key(None) == "from-file"  # the current directory by default
    with pytest.raises(click.UsageError, match="no API key"):
        resolve_key(None, tmp_path / "elsewhere")


# HTTP behaviour, with requests faked


def test_flags_override_file_defaults_and_no_wait(tmp_path, monkeypatch):
    sent = []

    def fake(method, url, **kwargs):
        sent.append((method, url, kwargs["json"], kwargs["headers"]["Authorization"]))
        return response(202, {"id": "b1", "status": "queued", "progress": {"done": 0, "total": 2}})

    serve(monkeypatch, fake)
    write(tmp_path / "subs" / "a.py", SUM)
    result = CliRunner().invoke(grade, [
        "--tests", str(write(tmp_path / "tests.yaml", TESTS_YAML)), str(tmp_path / "subs"), "--no-wait",
        "--url", "http://grader.test/", "--key", "k1", "--language", "py", "--compare", "tokens",
        "--memory-mb", "64"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "b1\n" and "http://grader.test/codestudio/batch/b1" in result.stderr
    [(method, url, payload, auth)] = sent
    assert (method, url, auth) == ("POST", "http://grader.test/codestudio/batch", "Bearer k1")
    assert (payload["language"], payload["compare"]) == ("py", "tokens")
    assert payload["limits"] == {"timeout": 5, "memory_mb": 64}
    assert payload["submissions"] == [{"id": "a", "code": SUM}]


def test_refusals_print_the_detail_once(tmp_path, monkeypatch):
    calls = []

    def refuse(method, url, **kwargs):
        calls.append(url)
        return response(429, {"code": "quota_exceeded", "detail": "daily execution quota used up"},
                        {"Retry-After": "3600"})

    serve(monkeypatch, refuse)
    write(tmp_path / "subs" / "a.py", SUM)
    result = CliRunner().invoke(grade, ["--tests", str(write(tmp_path / "t.yaml", TESTS_YAML)),
                                        str(tmp_path / "subs"), "--key", "k"])
    assert result.exit_code == 1 and len(calls) == 1
    assert "429 quota_exceeded: daily execution quota used up" in result.stderr


def test_polling_honours_retry_after(monkeypatch):
    answers = [response(429, {"code": "rate_limited", "detail": "slow down"}, {"Retry-After": "7"}),
               response(200, {"id": "b", "status": "done"})]
    serve(monkeypatch, lambda method, url, **kw: answers.pop(0))
    slept = []
    monkeypatch.setattr(time, "sleep", slept.append)
    assert Client("http://x", "k").get_batch("b").status == "done"
    assert len(slept) == 1 and 7.0 <= slept[0] <= 7.0 * 1.2  # Retry-After, plus at most the policy's jitter


class FakeBatchApi:
    """POST answers a queued batch; polls answer it with status `final`; report requests are recorded."""

    def __init__(self, final: str):
        self.final, self.polls, self.reports = final, [], []

    def __call__(self, method, url, **kwargs):
        if method == "POST":
            return response(202, {"id": "b9", "status": "queued", "progress": {"done": 0, "total": 2}})
        if url.endswith("/report.csv"):
            self.reports.append(kwargs["params"])
            return response(200, {"status": self.final, "tests": ["small", "negative"], "max_score": 3,
                                  "rows": [{"submission": "a", "score": 1}]})
        self.polls.append(kwargs["params"])
        return response(200, {"id": "b9", "status": self.final, "progress": {"done": 1, "total": 2, "cancelled": 1}})


def invoke_with_fake(tmp_path, monkeypatch, final, *args):
    fake = FakeBatchApi(final)
    serve(monkeypatch, fake)
    write(tmp_path / "subs" / "a.py", SUM)
    result = CliRunner().invoke(grade, ["--tests", str(write(tmp_path / "t.yaml", TESTS_YAML)),
                                        str(tmp_path / "subs"), "--key", "k", "--poll", "0.1", *args])
    return result, fake


def test_a_cancelled_batch_still_writes_its_report_and_exits_1(tmp_path, monkeypatch):
    result, fake = invoke_with_fake(tmp_path, monkeypatch, "cancelled", "--out", str(tmp_path / "sheet.json"))
    assert result.exit_code == 1, result.output
    assert fake.polls == [{"results": "false"}]  # polling asks for progress only
    assert fake.reports == [{"format": "json"}]  # from the --out extension, and it gives the summary too
    assert json.loads((tmp_path / "sheet.json").read_text())["rows"] == [{"submission": "a", "score": 1}]
    assert "graded 1 submissions x 2 tests: cancelled, mean score 1/3" in result.stderr


def test_ctrl_c_while_waiting_leaves_the_batch_running(tmp_path, monkeypatch):
    def interrupt(seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr(time, "sleep", interrupt)
    result, fake = invoke_with_fake(tmp_path, monkeypatch, "running")
    assert result.exit_code == 130 and fake.reports == []
    assert "batch b9 keeps running" in result.stderr and "curl -X DELETE" in result.stderr


def test_grade_is_a_codestudio_command():
    result = subprocess.run([str(Path(sys.executable).with_name("codestudio")), "grade", "--help"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0 and "--tests FILE" in result.stdout, result.stderr
