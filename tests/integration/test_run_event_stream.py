"""POST /codestudio/run as Server-Sent Events (Accept: text/event-stream): the live run's events as
they come, ending with the result; and the OpenAPI description of the live protocols."""
from __future__ import annotations

import json
import time

import pytest
import requests

from tests.support.live_client import SLEEPER, execution, read_event_stream
from tests.support.polling import wait_until

pytestmark = pytest.mark.usefixtures("worker")


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


def test_the_openapi_description_documents_the_live_protocols(front):
    description = requests.get(f"{front.url}/codestudio/openapi.json", timeout=10).json()["info"]["description"]
    for needle in ("GET /codestudio/live", '{"type": "auth"', "`stdin`", "`resize`", "`exit`", "`error`",
                   "1011", "4429", "key_in_url", "text/event-stream"):
        assert needle in description, needle
