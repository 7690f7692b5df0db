"""Piston's interactive WebSocket (GET /api/v2/connect) message by message, as Piston's clients
read it, every close code included; served by the deployed front, a real worker and nsjail."""
from __future__ import annotations

import time

import pytest

from tests.support.live_client import Closed, LiveClient

pytestmark = pytest.mark.usefixtures("worker")

GREET = 'name = input()\nprint("Hello, " + name)\n'
GREET_C = """\
#include <stdio.h>
int main(void) {
    char name[32];
    if (scanf("%31s", name) != 1) return 2;
    printf("Hello, %s\\n", name);
    return 0;
}
"""
# Piston's default run_timeout (3 s) counts from the jail's start, and the answer crosses the
# socket, the API and Redis twice: a loaded machine must not turn the dialogue into a timeout
ANSWER_MS = 20000
SLEEPER = "import time\nprint('ready', flush=True)\ntime.sleep(30)\n"


def connect(front, user) -> LiveClient:
    return LiveClient(front, path="/api/v2/connect", headers={"Authorization": user["key"]})


def init(client: LiveClient, code: str, language: str = "python", **fields) -> dict:
    client.send(type="init", language=language, version="*", files=[{"content": code}], **fields)
    runtime = client.next()
    assert runtime["type"] == "runtime", runtime
    return runtime


def frames_until_close(client: LiveClient, timeout: float = 60) -> list[dict]:
    seen = []
    deadline = time.monotonic() + timeout
    while True:
        try:
            seen.append(client.next(timeout=max(0.1, deadline - time.monotonic())))
        except Closed:
            return seen


def stdout_of(frames: list[dict]) -> str:
    return "".join(f["data"] for f in frames if f["type"] == "data" and f["stream"] == "stdout")


def test_an_interpreted_run_message_by_message(front, user):
    client = connect(front, user)
    runtime = init(client, GREET, stdin="ignored\n", run_timeout=ANSWER_MS)
    assert set(runtime) == {"type", "language", "version"} and runtime["language"] == "python"
    assert client.next() == {"type": "stage", "stage": "run"}
    client.send(type="data", stream="stdin", data="Ada\n")
    frames = frames_until_close(client)
    assert stdout_of(frames) == "Hello, Ada\n", frames
    assert frames[-1] == {"type": "exit", "stage": "run", "code": 0, "signal": None, "error": None}
    assert {f["type"] for f in frames} == {"data", "exit"}
    assert (client.close_code, client.close_reason) == (4999, "Job Completed")


def test_a_compiled_run_reports_both_stages(front, user):
    client = connect(front, user)
    runtime = init(client, GREET_C, language="c", run_timeout=ANSWER_MS)
    assert runtime["language"] == "c"
    assert client.next() == {"type": "stage", "stage": "compile"}
    assert client.until("exit") == {"type": "exit", "stage": "compile", "code": 0, "signal": None, "error": None}
    assert client.next() == {"type": "stage", "stage": "run"}
    client.send(type="data", stream="stdin", data="Grace\n")
    frames = frames_until_close(client)
    assert stdout_of(frames) == "Hello, Grace\n", frames
    assert frames[-1]["type"] == "exit" and frames[-1]["stage"] == "run" and frames[-1]["code"] == 0
    assert client.close_code == 4999


def test_a_signal_reaches_the_program(front, user):
    client = connect(front, user)
    init(client, SLEEPER)
    client.until(lambda frame: frame["type"] == "data" and "ready" in frame["data"])
    client.send(type="signal", signal="SIGKILL")
    frames = frames_until_close(client)
    assert frames[-1] == {"type": "exit", "stage": "run", "code": None, "signal": "SIGKILL", "error": None}, frames
    assert client.close_code == 4999


def test_4000_already_initialized(front, user):
    client = connect(front, user)
    init(client, SLEEPER)
    client.send(type="init", language="python", version="*", files=[{"content": "print(1)"}])
    frames_until_close(client)
    assert (client.close_code, client.close_reason) == (4000, "Already Initialized")


def test_4001_initialization_timeout(front, user):
    client = connect(front, user)
    opened = time.monotonic()
    client.send(type="hello")  # unknown types are ignored, as Piston does
    assert frames_until_close(client, timeout=10) == []
    assert (client.close_code, client.close_reason) == (4001, "Initialization Timeout")
    assert 0.9 < time.monotonic() - opened < 3


@pytest.mark.parametrize(("sent", "message"), [
    ("{not json", "invalid JSON"),
    ('{"type": "init", "language": "python", "version": "99.x", "files": [{"content": "x"}]}',
     "python-99.x runtime is unknown"),
    ('{"type": "init", "language": "python", "version": "*"}', "files is required as an array"),
])
def test_4002_notified_error_follows_an_error_frame(front, user, sent, message):
    client = connect(front, user)
    client.send_raw(sent)
    frames = frames_until_close(client)
    assert len(frames) == 1 and frames[0]["type"] == "error" and message in frames[0]["message"], frames
    assert (client.close_code, client.close_reason) == (4002, "Notified Error")


@pytest.mark.parametrize("frame", [{"type": "data", "stream": "stdin", "data": "x"},
                                   {"type": "signal", "signal": "SIGINT"}])
def test_4003_not_yet_initialized(front, user, frame):
    client = connect(front, user)
    client.send(**frame)
    assert frames_until_close(client) == []
    assert (client.close_code, client.close_reason) == (4003, "Not yet Initialized")


def test_4004_can_only_write_to_stdin(front, user):
    client = connect(front, user)
    init(client, SLEEPER)
    client.send(type="data", stream="stdout", data="x")
    frames_until_close(client)
    assert (client.close_code, client.close_reason) == (4004, "Can only write to stdin")


@pytest.mark.parametrize("name", ["SIGFOO", "INT", 9])
def test_4005_invalid_signal(front, user, name):
    client = connect(front, user)
    init(client, SLEEPER)
    client.send(type="signal", signal=name)
    frames_until_close(client)
    assert (client.close_code, client.close_reason) == (4005, "Invalid signal")


def test_a_missing_key_is_refused_as_our_piston_api_refuses_it(front):
    import websocket

    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        LiveClient(front, path="/api/v2/connect")
    assert refused.value.status_code == 401
    assert b'"message"' in refused.value.resp_body


def test_a_frame_over_the_cap_is_a_notified_error(front, user):
    client = connect(front, user)
    init(client, SLEEPER)
    client.send(type="data", stream="stdin", data="x" * (1024 * 1024 + 1))
    frames = frames_until_close(client)
    assert frames[-1]["type"] == "error" and "at most" in frames[-1]["message"], frames[-1]
    assert (client.close_code, client.close_reason) == (4002, "Notified Error")
