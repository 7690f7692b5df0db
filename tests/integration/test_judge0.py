"""The Judge0 CE-compatible API: the official `judge0` SDK (0.0.8, unmodified) against our server,
plus Judge0's fields, defaults, statuses, base64, batch, callbacks and errors over HTTP."""
from __future__ import annotations

import base64
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import judge0
import pytest
import requests

from tests.support.polling import wait_until

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def sdk(http_url, user, worker):
    return judge0.Client(f"{http_url}/judge0", headers={"X-Auth-Token": user["key"]})


@pytest.fixture
def api(http_url, user, worker):
    session = requests.Session()
    session.headers["X-Auth-Token"] = user["key"]
    return lambda path: f"{http_url}/judge0{path}", session


def test_sdk_runs_several_languages(sdk):
    programs = {judge0.PYTHON: "print('hello')", judge0.JAVASCRIPT: "console.log('hello')",
                judge0.C: '#include <stdio.h>\nint main(){puts("hello");return 0;}',
                judge0.CPP: '#include <iostream>\nint main(){std::cout<<"hello\\n";}',
                judge0.JAVA: 'public class Main{public static void main(String[] a){System.out.println("hello");}}'}
    for language, code in programs.items():
        result = judge0.run(client=sdk, source_code=code, language=language)
        assert (result.status, result.stdout) == (judge0.Status.ACCEPTED, "hello\n"), (language, result)
        assert result.time is not None and result.memory > 0 and result.created_at <= result.finished_at


def test_sdk_test_cases_use_the_batch_endpoints(sdk):
    results = judge0.run(client=sdk, source_code="print(input())", language=judge0.PYTHON,
                         test_cases=[("hello", "hello"), ("bye", "hello"), ("  hi  \n\n", "  hi")])
    assert [r.status for r in results] == [judge0.Status.ACCEPTED, judge0.Status.WRONG_ANSWER,
                                           judge0.Status.ACCEPTED]


def test_sdk_async_run_and_wait(sdk):
    submission = judge0.async_run(client=sdk, source_code="echo hi $1", language=46)
    judge0.wait(client=sdk, submissions=submission, retry_strategy=judge0.MaxWaitTime(60))
    assert (submission.status, submission.stdout) == (judge0.Status.ACCEPTED, "hi\n")


def test_sdk_compile_error(sdk):
    result = judge0.run(client=sdk, source_code="int main( { return 0; }", language=judge0.C)
    assert result.status == judge0.Status.COMPILATION_ERROR and "error" in result.compile_output


def test_fields_defaults_statuses_and_timestamps(api):
    url, http = api
    token = http.post(url("/submissions"), json={"source_code": "import sys; sys.exit(3)", "language_id": 71}
                      ).json()["token"]
    body = _wait(http, url(f"/submissions/{token}?fields=*"))
    assert body["status"] == {"id": 11, "description": "Runtime Error (NZEC)"}
    assert (body["exit_code"], body["exit_signal"], body["message"]) == (3, None, "Exited with error status 3")
    assert isinstance(body["time"], str) and isinstance(body["memory"], int)
    assert STAMP.match(body["created_at"]) and STAMP.match(body["finished_at"])
    assert (body["cpu_time_limit"], body["wall_time_limit"], body["memory_limit"], body["number_of_runs"]) == (
        5.0, 10.0, 128000, 1)
    default = http.get(url(f"/submissions/{token}")).json()
    assert set(default) == {"token", "time", "memory", "stdout", "stderr", "compile_output", "message", "status"}
    bad = http.get(url(f"/submissions/{token}?fields=token,queued_at"))
    assert (bad.status_code, bad.json()) == (400, {"error": "invalid fields: [queued_at]"})
    statuses = http.get(url("/statuses")).json()
    assert [s["id"] for s in statuses] == list(range(1, 15))


@pytest.mark.parametrize("code, status, signal, message", [
    ("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)", 7, 11, None),
    ("import os\nos.abort()", 10, 6, None),
    ("while True: pass", 5, 9, "Time limit exceeded"),
    ("x = bytearray(300 << 20)", 12, 9, "Memory limit exceeded (killed by signal 9)"),
    ("print('x' * (3 << 20))", 8, None, "Output limit exceeded"),
])
def test_signals_limits_and_memory_kills(api, code, status, signal, message):
    url, http = api
    body = http.post(url("/submissions?wait=true&fields=status,exit_signal,message"), json={
        "source_code": code, "language_id": 71, "cpu_time_limit": 1, "memory_limit": 65536}).json()
    assert body["status"]["id"] == status and body["exit_signal"] == signal, body
    if message:
        assert body["message"] == message


def test_base64_stdin_args_expected_output_and_runs(api):
    url, http = api
    b64 = lambda text: base64.b64encode(text.encode()).decode()  # noqa: E731
    body = http.post(url("/submissions?base64_encoded=true&wait=true&fields=*"), json={
        "source_code": b64("import sys\nprint(input(), *sys.argv[1:])"), "language_id": 71, "stdin": b64("héllo"),
        "command_line_arguments": "a 'b c'", "expected_output": b64("héllo a b c"), "number_of_runs": 3,
        "redirect_stderr_to_stdout": True}).json()
    assert body["status"]["id"] == 3, body
    assert base64.b64decode(body["stdout"]).decode() == "héllo a b c\n" and body["stderr"] is None
    assert base64.b64decode(body["source_code"]).decode().startswith("import sys")


def test_batch_list_and_delete(api):
    url, http = api
    created = http.post(url("/submissions/batch"), json={"submissions": [
        {"source_code": "print(1)", "language_id": 71}, {"source_code": "x", "language_id": 9999}]})
    assert created.status_code == 201
    first, second = created.json()
    assert "token" in first and second == {"language_id": ["language with id 9999 doesn't exist"]}
    _wait(http, url(f"/submissions/{first['token']}"))
    found = http.get(url(f"/submissions/batch?tokens={first['token']},00000000-0000-4000-8000-000000000000")).json()
    assert found["submissions"][0]["status"]["id"] == 3 and found["submissions"][1] is None
    listed = http.get(url("/submissions?per_page=1")).json()
    assert listed["meta"]["total_count"] >= 1 and len(listed["submissions"]) == 1
    deleted = http.delete(url(f"/submissions/{first['token']}"))
    assert deleted.status_code == 200 and base64.b64decode(deleted.json()["stdout"]) == b"1\n"
    assert http.get(url(f"/submissions/{first['token']}")).status_code == 404


def test_refusals_are_judge0_shaped(api, http_url):
    url, http = api
    bad = http.post(url("/submissions"), json={"language_id": 71, "enable_network": True, "cpu_time_limit": 99,
                                               "compiler_options": "-O3", "callback_url": "ftp://x"})
    assert bad.status_code == 422
    assert set(bad.json()) == {"source_code", "enable_network", "cpu_time_limit", "compiler_options", "callback_url"}
    assert bad.json()["enable_network"] == ["enabling network is not allowed"]
    unauthorized = requests.post(f"{http_url}/judge0/submissions", json={"source_code": "1", "language_id": 71})
    assert unauthorized.status_code == 401 and "error" in unauthorized.json()
    assert http.get(url("/submissions/nope")).status_code == 404


def test_info_endpoints_the_sdk_reads(api):
    url, http = api
    assert http.get(url("/about")).json()["version"] == "1.13.1"
    config = http.get(url("/config_info")).json()
    assert len(config) == 39 and config["enable_network"] is False and config["max_submission_batch_size"] == 20
    languages = {lang["id"]: lang["name"] for lang in http.get(url("/languages")).json()}
    assert {50, 52, 54, 62, 63, 71} <= set(languages) and languages[71].startswith("Python (3.")
    assert http.get(url("/languages/62")).json()["source_file"] == "Main.java"
    assert all("is_archived" in lang for lang in http.get(url("/languages/all")).json())
    assert http.get(url("/statistics")).json()["submissions"]["total"] >= 0
    assert any(q["queue"] == "lang.python" and q["available"] >= 1 for q in http.get(url("/workers")).json())


class _Receiver(BaseHTTPRequestHandler):
    received: list = []

    def do_PUT(self):  # noqa: N802 (http.server's naming)
        self.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_callback_put_on_completion_and_never_to_private_addresses(api):
    url, http = api
    server = HTTPServer(("127.0.0.1", 0), _Receiver)  # loopback is allowed for the tests' workers only
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        token = http.post(url("/submissions"), json={"source_code": "print(5)", "language_id": 71,
                          "callback_url": f"http://127.0.0.1:{server.server_port}/done?x=1"}).json()["token"]
        refused = http.post(url("/submissions"), json={"source_code": "print(6)", "language_id": 71,
                            "callback_url": "http://169.254.169.254/latest/meta-data"})
        # more in test_callback_addresses
        assert refused.status_code == 422 and list(refused.json()) == ["callback_url"]
        wait_until(lambda: _Receiver.received, 30, interval=0.1, what="a callback")
        body = _Receiver.received[0]
        assert body["token"] == token and body["status"]["id"] == 3 and base64.b64decode(body["stdout"]) == b"5\n"
        time.sleep(1)  # the point: no second callback comes in this time
        assert len(_Receiver.received) == 1
    finally:
        server.shutdown()


def _wait(http, address, seconds=60):
    def ended() -> dict | None:
        body = http.get(address).json()
        return body if body["status"]["id"] not in (1, 2) else None

    return wait_until(ended, seconds, interval=0.1, what=f"{address} finished")


def test_the_api_can_also_be_served_at_the_root(stack_env):
    from app import create_app

    rooted = create_app({"TESTING": True, "JUDGE0_AT_ROOT": True}).test_client()
    assert rooted.get("/about").get_json()["version"] == rooted.get("/judge0/about").get_json()["version"] == "1.13.1"
    assert rooted.get("/statuses").status_code == 200
