"""Live runs over the WebSocket (GET /codestudio/live), as deployed (nginx in front of gunicorn),
with a real worker, nsjail and Redis: programs answered as they ask, in pipe and terminal modes."""
from __future__ import annotations

import json
import time

import pytest
import requests

from tests.support.live_client import LiveClient, read_event_stream
from tests.support.polling import wait_until

pytestmark = pytest.mark.usefixtures("worker")

DIALOGUE = """\
name = input("Name: ")
print(f"Hello, {name}!")
age = int(input("Age: "))
print(f"Next year you will be {age + 1}.")
"""

GUESS = """\
import random
secret = 1
turns = 0
while True:
    guess = int(input("guess? "))
    turns += 1
    if guess < secret:
        print("higher")
    elif guess > secret:
        print("lower")
    else:
        print(f"got it in {turns}")
        break
"""


def live(front, user, **kwargs) -> LiveClient:
    return LiveClient(front, key=user["key"], **kwargs)


@pytest.mark.parametrize("tty", [False, True], ids=["pipe", "terminal"])
def test_python_input_dialogue(front, user, tty):
    client = live(front, user)
    client.start("python", DIALOGUE, tty=tty)
    client.until_output("Name: ")
    client.send(type="stdin", data="Ada\n")
    client.until_output("Age: ")
    assert "Hello, Ada!" in client.output()
    client.send(type="stdin", data="36\n")
    last, code = client.finish()
    assert last["type"] == "exit", last
    assert code == 1000
    assert "Next year you will be 37." in client.output()
    result = last["result"]
    assert result["status"] == "success"
    assert "Next year you will be 37." in result["stdout"]
    got = requests.get(f"{front.url}/codestudio/executions/{result['id']}", headers=user["headers"], timeout=10)
    assert got.json() == result


def answer_after(client: LiveClient, seen: int) -> str:
    def answered(frame) -> bool:
        return any(word in client.output()[seen:] for word in ("higher", "lower", "got it"))

    client.until(answered)
    return client.output()[seen:]


def test_guess_the_number_in_seven_turns(front, user):
    client = live(front, user)
    client.start("python", GUESS)
    low, high, turns, seen = 0, 100, 0, 0
    while "got it" not in client.output():
        client.until_output("guess? ", since=seen)
        seen = len(client.output())
        guess = (low + high) // 2
        client.send(type="stdin", data=f"{guess}\n")
        turns += 1
        answer = answer_after(client, seen)
        if "higher" in answer:
            low = guess + 1
        elif "lower" in answer:
            high = guess - 1
    assert turns == 7
    assert f"got it in {turns}" in client.output()
    last, code = client.finish()
    assert last["result"]["status"] == "success" and code == 1000


def test_first_chunk_arrives_before_the_program_ends(front, user):
    client = live(front, user)
    client.start("python", "import time\nprint('first', flush=True)\ntime.sleep(1)\nprint('second')\n")
    client.until_output("first")
    first_at = time.monotonic()
    client.until_output("second")
    assert time.monotonic() - first_at > 0.5
    last, _ = client.finish()
    assert last["result"]["stdout"] == "first\nsecond\n"


SCANF = """\
#include <stdio.h>
int main(void) {
    char name[64];
    int n;
    printf("Name: ");
    if (scanf("%63s", name) != 1) return 1;
    printf("Number: ");
    if (scanf("%d", &n) != 1) return 1;
    printf("%s doubled is %d\\n", name, 2 * n);
    return 0;
}
"""

SCANNER = """\
import java.util.Scanner;

public class Main {
    public static void main(String[] args) {
        Scanner in = new Scanner(System.in);
        System.out.println("How many?");
        int count = in.nextInt();
        long sum = 0;
        for (int i = 0; i < count; i++) {
            System.out.println("Next:");
            sum += in.nextLong();
        }
        System.out.println("Sum: " + sum);
    }
}
"""

READLINE = """\
const readline = require("readline");
const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
rl.question("Color? ", (color) => {
  rl.question("Animal? ", (animal) => {
    console.log(`a ${color} ${animal}`);
    rl.close();
  });
});
"""


def test_c_scanf_prompts_without_newline_appear_at_once_in_terminal_mode(front, user):
    client = live(front, user)
    client.start("c", SCANF, tty=True)
    output = client.until_output("Name: ", timeout=60)
    assert "Number" not in output
    client.send(type="stdin", data="Grace\n")
    client.until_output("Number: ")
    client.send(type="stdin", data="21\n")
    last, code = client.finish()
    assert last["result"]["status"] == "success" and code == 1000
    assert "Grace doubled is 42" in client.output()
    assert "Grace\r\n" in client.output()  # the terminal echoes what was typed


def test_java_scanner_reads_numbers_as_they_come(front, user):
    client = live(front, user)
    client.start("java", SCANNER)
    client.until_output("How many?", timeout=90)
    client.send(type="stdin", data="3\n")
    seen = 0
    for number in (10, 20, 12):
        client.until_output("Next:", since=seen)
        seen = len(client.output())
        client.send(type="stdin", data=f"{number}\n")
    last, _ = client.finish()
    assert last["result"]["status"] == "success", last
    assert "Sum: 42" in client.output()


def test_node_readline_questions_in_terminal_mode(front, user):
    client = live(front, user)
    client.start("javascript", READLINE, tty=True)
    client.until_output("Color? ", timeout=60)
    client.send(type="stdin", data="green\n")
    client.until_output("Animal? ")
    client.send(type="stdin", data="heron\n")
    last, _ = client.finish()
    assert last["result"]["status"] == "success", last
    assert "a green heron" in client.output()


def test_signal_int_reaches_a_keyboard_interrupt_handler(front, user):
    client = live(front, user)
    client.start("python", "import time\ntry:\n    print('ready', flush=True)\n    time.sleep(30)\n"
                 "except KeyboardInterrupt:\n    print('caught INT')\n")
    client.until_output("ready")
    client.send(type="signal", signal="SIGINT")
    last, code = client.finish()
    assert "caught INT" in client.output()
    assert last["result"]["status"] == "success" and code == 1000


def test_signal_kill_ends_the_program(front, user):
    client = live(front, user)
    client.start("python", "import time\nprint('ready', flush=True)\ntime.sleep(30)\nprint('not reached')\n")
    client.until_output("ready")
    sent = time.monotonic()
    client.send(type="signal", signal="KILL")
    last, code = client.finish()
    assert time.monotonic() - sent < 5
    assert last["result"]["status"] == "error" and last["result"]["signal"] == "SIGKILL", last
    assert "not reached" not in client.output()


def test_eof_ends_the_programs_input(front, user):
    client = live(front, user)
    client.start("python", "import sys\nprint(len(sys.stdin.read()))\n", stdin="abc")
    client.send(type="stdin", data_b64="ZGVm")  # "def"
    client.send(type="eof")
    last, _ = client.finish()
    assert last["result"]["stdout"] == "6\n"


def usage_records(app, execution_id: str) -> list:
    from app.extensions import db
    from app.models import UsageRecord

    with app.app_context():
        rows = db.session.query(UsageRecord).filter_by(execution_id=execution_id).all()
        db.session.remove()
        return rows


def execution(front, user, execution_id: str) -> dict:
    response = requests.get(f"{front.url}/codestudio/executions/{execution_id}", headers=user["headers"], timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_caller_that_disconnects_ends_its_run_at_once_billed_once(app, front, user):
    client = live(front, user)
    execution_id = client.start("python", "import time\nprint('ready', flush=True)\ntime.sleep(30)\n")
    client.until_output("ready")
    client.ws.sock.close()  # gone without a closing handshake
    left = time.monotonic()
    wait_until(lambda: execution(front, user, execution_id)["status"] != "running", 10, interval=0.05,
               what="the run to end")
    ended_within = time.monotonic() - left
    result = execution(front, user, execution_id)
    assert result["status"] == "stopped", result
    assert "disconnected" in (result["message"] or "")
    assert ended_within < 2.0, ended_within
    time.sleep(1)
    assert len(usage_records(app, execution_id)) == 1
    assert execution(front, user, execution_id) == result  # ended once


def test_a_browser_authenticates_with_its_first_frame(front, user):
    client = LiveClient(front)
    client.send(type="auth", key=user["key"])
    client.start("python", "print(input())", stdin="from a browser\n")
    last, code = client.finish()
    assert last["result"]["stdout"] == "from a browser\n" and code == 1000


@pytest.mark.parametrize(("first", "code"), [
    ({"type": "auth", "key": "cs_not-a-key"}, "invalid_api_key"),
    ({"type": "auth"}, "invalid_api_key"),
    ({"type": "start", "language": "python", "code": "print(1)"}, "unauthorized"),
])
def test_a_connection_without_a_valid_key_is_refused(front, first, code):
    client = LiveClient(front)
    client.send(**first)
    last, close = client.refusal()
    assert last["type"] == "error" and last["code"] == code, last
    assert close == 4401


def test_a_connection_that_sends_no_key_is_closed_after_five_seconds(front):
    client = LiveClient(front)
    opened = time.monotonic()
    last, close = client.refusal(timeout=15)
    assert last["code"] == "auth_timeout" and close == 4401
    assert 4.5 < time.monotonic() - opened < 8


def test_a_bad_key_header_is_refused_before_the_upgrade(front):
    import websocket

    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        LiveClient(front, key="cs_not-a-key")
    assert refused.value.status_code == 401


@pytest.mark.parametrize("query", ["?key=abc", "?api_key=abc", "?token=abc&x=1"])
def test_a_key_in_the_url_is_refused(front, user, query):
    client = LiveClient(front, query=query)
    last, close = client.refusal()
    assert last["code"] == "key_in_url" and close == 1008
    with_header = LiveClient(front, key=user["key"], query=query)  # refused even with a good header
    last, close = with_header.refusal()
    assert last["code"] == "key_in_url" and close == 1008


def test_another_users_live_execution_is_invisible(front, user, make_user):
    client = live(front, user)
    execution_id = client.start("python", "print('mine')")
    client.finish()
    other = make_user()
    response = requests.get(f"{front.url}/codestudio/executions/{execution_id}", headers=other["headers"], timeout=10)
    assert response.status_code == 404
    listed = requests.get(f"{front.url}/codestudio/executions", headers=other["headers"], timeout=10).json()
    assert execution_id not in [item["id"] for item in listed["items"]]


SLEEPER = "import time\nprint('ready', flush=True)\ntime.sleep(30)\n"


def started(front, user, tty: bool = False) -> tuple[LiveClient, str]:
    client = live(front, user)
    execution_id = client.start("python", SLEEPER, tty=tty)
    client.until_output("ready")
    return client, execution_id


@pytest.mark.parametrize(("raw", "code", "close"), [
    ("{", "invalid_json", 1003),
    ("[1, 2]", "invalid_json", 1003),
    ('{"type": "hello"}', "unknown_type", 1003),
    ('{"no": "type"}', "unknown_type", 1003),
    (b"\x00\x01", "binary_frame", 1003),
    ('{"type": "stdin", "data": "too soon"}', "not_started", 1008),
    ('{"type": "eof"}', "not_started", 1008),
    ('{"type": "start", "language": "python"}', "validation_error", 4422),
    ('{"type": "start", "language": "cobol-85", "code": "x"}', "unknown_language", 4422),
    ('{"type": "start", "language": "python", "code": "x", "limits": {"timeout": 100000}}', "limit_exceeded", 4422),
    ('{"type": "start", "language": "python", "code": "x", "cols": 0, "tty": true}', "validation_error", 4422),
])
def test_a_bad_frame_before_the_run_gets_an_error_frame_and_a_close_code(front, user, raw, code, close):
    client = live(front, user)
    client.send_raw(raw)
    last, closed = client.refusal()
    assert last["type"] == "error" and last["code"] == code, last
    assert closed == close
    assert "Traceback" not in last["detail"]


@pytest.mark.parametrize(("frame", "code", "close"), [
    ({"type": "start", "language": "python", "code": "print(1)"}, "already_started", 1008),
    ({"type": "signal", "signal": "SIGFOO"}, "invalid_signal", 1008),
    ({"type": "signal", "signal": 9}, "invalid_signal", 1008),
    ({"type": "resize", "cols": 0, "rows": 24}, "invalid_resize", 1008),
    ({"type": "resize", "cols": "80", "rows": 24}, "invalid_resize", 1008),
    ({"type": "stdin", "data_b64": "not base64!"}, "invalid_stdin", 1008),
    ({"type": "stdin", "data": "a", "data_b64": "YQ=="}, "invalid_stdin", 1008),
    ({"type": "auth", "key": "x"}, "already_authenticated", 1008),
])
def test_a_bad_frame_during_the_run_stops_it(front, user, frame, code, close):
    client, execution_id = started(front, user, tty=True)
    client.send(**frame)
    last, closed = client.refusal()
    assert last["type"] == "error" and last["code"] == code, last
    assert closed == close
    wait_until(lambda: execution(front, user, execution_id)["status"] == "stopped", 10, interval=0.1,
               what="the run to be stopped")


def test_a_frame_over_the_cap_is_refused(front, user):
    client, execution_id = started(front, user)
    client.send(type="stdin", data="x" * (1024 * 1024 + 1))
    last, closed = client.refusal()
    assert last["code"] == "frame_too_large" and closed == 1009
    wait_until(lambda: execution(front, user, execution_id)["status"] == "stopped", 10, interval=0.1,
               what="the run to be stopped")


def test_a_start_frame_over_the_request_size_is_refused(front, user):
    client = live(front, user)
    client.send(type="start", language="python", code="#" * (9 * 1024 * 1024))
    last, closed = client.refusal()
    assert last["code"] == "frame_too_large" and closed == 1009


def test_a_stdin_flood_is_bounded_and_refused(front, user):
    client, execution_id = started(front, user)
    chunk = "y" * 1_000_000
    try:
        for _ in range(40):
            client.send(type="stdin", data=chunk)
    except OSError:  # the server closed while we still sent
        pass
    last, closed = client.refusal()
    assert last["code"] == "input_flood" and closed == 1008, last
    wait_until(lambda: execution(front, user, execution_id)["status"] == "stopped", 10, interval=0.1,
               what="the run to be stopped")


def test_the_tier_caps_concurrent_live_runs(front, make_user):
    free = make_user("free")  # live_concurrent = 1, concurrent_executions = 2
    first, _ = started(front, free)
    second = live(front, free)
    second.send(type="start", language="python", code="print(2)")
    last, closed = second.refusal()
    assert last["code"] == "concurrency_limit" and last["limit"] == "live_concurrent", last
    assert last["status"] == 429 and closed == 4429
    assert last["upgrade_to"] == "pro"
    first.close()


def post_event_stream(front, user, body: dict) -> requests.Response:
    return requests.post(f"{front.url}/codestudio/run", json=body, stream=True, timeout=60,
                         headers={**user["headers"], "Accept": "text/event-stream"})


def test_an_event_stream_streams_output_as_it_comes_and_ends_with_the_result(front, user):
    program = "import time\nprint('one', flush=True)\ntime.sleep(1)\nprint(input())\n"
    response = post_event_stream(front, user, {"language": "python", "code": program, "stdin": "two\n"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    arrivals = []
    for name, data in read_event_stream(response):
        arrivals.append((time.monotonic(), name, data))
    names = [name for _, name, _ in arrivals]
    assert names[0] == "accepted" and names[-1] == "exit", names
    assert "stage" in names
    stdout = [(at, data["data"]) for at, name, data in arrivals if name == "stdout"]
    assert "".join(text for _, text in stdout) == "one\ntwo\n"
    first_at, exit_at = stdout[0][0], arrivals[-1][0]
    assert exit_at - first_at > 0.5  # the first chunk came while the program slept
    result = arrivals[-1][2]["result"]
    assert result["status"] == "success" and result["id"] == arrivals[0][2]["execution_id"]
    assert result == execution(front, user, result["id"])
    seqs = [data["seq"] for _, name, data in arrivals if "seq" in data]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_an_event_streams_program_reads_end_of_input_after_the_requests_stdin(front, user):
    program = "print(input())\ntry:\n    input()\nexcept EOFError:\n    print('eof')\n"
    response = post_event_stream(front, user, {"language": "python", "code": program, "stdin": "only line\n"})
    events = list(read_event_stream(response))
    assert events[-1][0] == "exit"
    assert events[-1][1]["result"]["stdout"] == "only line\neof\n"


def test_an_event_stream_refusal_is_a_problem(front, user):
    response = post_event_stream(front, user, {"language": "cobol-85", "code": "x"})
    assert response.status_code == 422
    assert response.json()["code"] == "unknown_language"


def test_a_json_caller_still_gets_json(front, user):
    response = requests.post(f"{front.url}/codestudio/run", json={"language": "python", "code": "print(5)"},
                             headers={**user["headers"], "Accept": "application/json, text/event-stream;q=0.5"},
                             timeout=60)
    assert response.status_code == 200 and response.json()["stdout"] == "5\n"


def test_an_event_stream_left_early_stops_its_run(front, user):
    response = post_event_stream(front, user, {"language": "python", "code": SLEEPER})
    events = response.iter_lines(decode_unicode=True)
    execution_id = None
    for line in events:
        if line.startswith("data:") and "execution_id" in line:
            execution_id = json.loads(line[len("data:"):])["execution_id"]
        if line.startswith("data:") and "ready" in line:
            break
    assert execution_id is not None
    response.close()
    wait_until(lambda: execution(front, user, execution_id)["status"] == "stopped", 5, interval=0.1,
               what="the run to be stopped")


def remaining_requests(front, user) -> int:
    response = requests.get(f"{front.url}/codestudio/executions?limit=1", headers=user["headers"], timeout=10)
    return int(response.headers["X-RateLimit-Remaining"])


@pytest.mark.parametrize("by_frame", [False, True], ids=["header", "first-frame"])
def test_the_upgrade_counts_as_one_request_of_the_callers_rate_limit(front, make_user, by_frame):
    caller = make_user("free")  # 30 requests a minute
    before = remaining_requests(front, caller)
    client = LiveClient(front) if by_frame else LiveClient(front, key=caller["key"])
    if by_frame:
        client.send(type="auth", key=caller["key"])
    client.start("python", "print(1)")
    client.finish()
    assert remaining_requests(front, caller) == before - 2  # the upgrade and this request


def test_a_caller_over_its_rate_limit_is_refused(front, make_user):
    caller = make_user("free")
    while remaining_requests(front, caller) > 0:
        pass
    client = LiveClient(front)
    client.send(type="auth", key=caller["key"])
    last, close = client.refusal()
    assert last["code"] == "rate_limited" and close == 4429, last
    import websocket

    with pytest.raises(websocket.WebSocketBadStatusException) as refused:  # with the header: refused as HTTP
        LiveClient(front, key=caller["key"])
    assert refused.value.status_code == 429


def test_the_openapi_description_documents_the_live_protocols(front):
    description = requests.get(f"{front.url}/codestudio/openapi.json", timeout=10).json()["info"]["description"]
    for needle in ("GET /codestudio/live", '{"type": "auth"', "`stdin`", "`resize`", "`exit`", "`error`",
                   "1011", "4429", "key_in_url", "text/event-stream"):
        assert needle in description, needle


def test_a_plain_http_get_of_the_websocket_is_a_problem(front, user):
    response = requests.get(f"{front.url}/codestudio/live", headers=user["headers"], timeout=10)
    assert response.status_code == 400 and response.json()["code"] == "websocket_mismatch"
