"""Idempotency-Key on POST /codestudio/run, POST /codestudio/batch, the event stream and the live
start, through the deployed front (nginx + gunicorn) with real workers: parallel retries make one
execution (or batch) and one charge, a key reused for another request is refused, a replay answers
with the first request's execution as it is now."""
from __future__ import annotations

import json
import socket
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
import sqlalchemy as sa
import websocket

from tests.support.batches import SUM_TESTS, wait_batch
from tests.support.live_client import LiveClient, read_event_stream

PARALLEL = 10
ADD = "a, b = map(int, input().split())\nprint(a + b)\n"


def post(front, user, path: str, body: dict, key: str | None, **headers: str) -> requests.Response:
    sent = {**user["headers"], **headers, **({"Idempotency-Key": key} if key is not None else {})}
    return requests.post(f"{front.url}{path}", json=body, headers=sent, timeout=120)


def in_parallel(call, times: int = PARALLEL) -> list:
    with ThreadPoolExecutor(times) as pool:
        return list(pool.map(lambda _: call(), range(times)))


def counts(app, user) -> dict[str, int]:
    """The user's executions, usage lines, batches and stored keys."""
    from app.extensions import db
    from app.models import Batch, Execution, IdempotencyKey, UsageRecord

    with app.app_context():
        try:
            return {name: db.session.execute(sa.select(sa.func.count()).select_from(model)
                                             .where(model.user_id == user["id"])).scalar_one()
                    for name, model in (("executions", Execution), ("usage", UsageRecord),
                                        ("batches", Batch), ("keys", IdempotencyKey))}
        finally:
            db.session.remove()


def replayed(response: requests.Response) -> bool:
    return response.headers.get("Idempotent-Replayed") == "true"


def assert_problem(response: requests.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == code, response.text


@pytest.mark.usefixtures("worker")
def test_parallel_retries_of_a_run_make_one_execution_and_one_charge(app, front, user):
    body = {"language": "python", "code": "import time\ntime.sleep(1)\nprint('once')"}
    answers = in_parallel(lambda: post(front, user, "/codestudio/run", body, "run-parallel-1"))
    assert [a.status_code for a in answers] == [200] * PARALLEL, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert {a.json()["stdout"] for a in answers} == {"once\n"}
    assert sum(not replayed(a) for a in answers) == 1  # the winner; the others answered with its run
    assert counts(app, user) == {"executions": 1, "usage": 1, "batches": 0, "keys": 1}


@pytest.mark.usefixtures("batch_worker")
def test_parallel_retries_of_a_batch_make_one_batch(app, front, client, user):
    body = {"language": "python", "tests": SUM_TESTS,
            "submissions": [{"id": "alice", "code": ADD}, {"id": "bob", "code": "print(0)"}]}
    answers = in_parallel(lambda: post(front, user, "/codestudio/batch", body, "batch-parallel-1"))
    assert [a.status_code for a in answers] == [202] * PARALLEL, [a.text for a in answers]
    ids = {a.json()["id"] for a in answers}
    assert len(ids) == 1 and sum(not replayed(a) for a in answers) == 1
    assert {a.headers["Location"] for a in answers} == {f"/codestudio/batch/{ids.pop()}"}
    batch = wait_batch(client, user, answers[0].json()["id"])  # polled in process: same database
    assert batch["status"] == "done"
    assert counts(app, user) == {"executions": 0, "usage": 2 * len(SUM_TESTS), "batches": 1, "keys": 1}
    again = post(front, user, "/codestudio/batch", body, "batch-parallel-1")
    assert again.status_code == 202 and replayed(again) and again.json()["status"] == "done"
    assert counts(app, user)["usage"] == 2 * len(SUM_TESTS)


@pytest.mark.usefixtures("worker")
def test_a_replay_after_the_run_ended_answers_its_result_and_charges_nothing(app, front, user):
    body = {"language": "python", "code": "print(input()[::-1])", "stdin": "olleh\n"}
    first = post(front, user, "/codestudio/run", body, "after-the-end")
    assert first.status_code == 200 and not replayed(first)
    again = post(front, user, "/codestudio/run", body, "after-the-end")
    assert again.status_code == 200 and replayed(again)
    assert again.json() == first.json() and again.json()["stdout"] == "hello\n"
    assert counts(app, user) == {"executions": 1, "usage": 1, "batches": 0, "keys": 1}


@pytest.mark.usefixtures("worker")
def test_a_replay_of_a_run_not_waited_for_is_accepted_again(app, front, user):
    body = {"language": "python", "code": "import time\ntime.sleep(2)\nprint(2)", "wait": False}
    first = post(front, user, "/codestudio/run", body, "queued-run")
    again = post(front, user, "/codestudio/run", body, "queued-run")
    assert (first.status_code, again.status_code) == (202, 202) and replayed(again)
    assert again.headers["Location"] == first.headers["Location"] == f"/codestudio/executions/{first.json()['id']}"
    waited = post(front, user, "/codestudio/run", {**body, "wait": True}, "queued-run")
    assert_problem(waited, 422, "idempotency_key_reused")  # `wait` is part of the body
    assert counts(app, user)["executions"] == 1


@pytest.mark.usefixtures("worker")
def test_a_key_reused_with_another_body_or_endpoint_is_refused(app, front, user):
    body = {"language": "python", "code": "print(1)"}
    assert post(front, user, "/codestudio/run", body, "reused").status_code == 200
    assert_problem(post(front, user, "/codestudio/run", {**body, "code": "print(2)"}, "reused"),
                   422, "idempotency_key_reused")
    batch = {"language": "python", "tests": SUM_TESTS, "submissions": [{"id": "a", "code": ADD}]}
    assert_problem(post(front, user, "/codestudio/batch", batch, "reused"), 422, "idempotency_key_reused")
    streamed = post(front, user, "/codestudio/run", body, "reused", Accept="text/event-stream")
    assert_problem(streamed, 422, "idempotency_key_reused")
    # the same body in another key order is the same request
    reordered = post(front, user, "/codestudio/run", {"code": "print(1)", "language": "python"}, "reused")
    assert reordered.status_code == 200 and replayed(reordered)
    assert counts(app, user) == {"executions": 1, "usage": 1, "batches": 0, "keys": 1}


@pytest.mark.usefixtures("worker")
def test_the_same_key_from_two_users_makes_two_executions(app, front, make_user):
    alice, bob = make_user(), make_user()
    body = {"language": "python", "code": "print('mine')"}
    first, second = (post(front, who, "/codestudio/run", body, "shared-key") for who in (alice, bob))
    assert first.status_code == second.status_code == 200
    assert first.json()["id"] != second.json()["id"]
    assert not replayed(first) and not replayed(second)
    assert counts(app, alice)["executions"] == counts(app, bob)["executions"] == 1


@pytest.mark.usefixtures("worker")
def test_an_expired_key_makes_a_new_execution(app, front, user):
    from app.extensions import db
    from app.models import IdempotencyKey, utcnow

    body = {"language": "python", "code": "print('again')"}
    first = post(front, user, "/codestudio/run", body, "expiring")
    assert first.status_code == 200
    with app.app_context():
        db.session.execute(sa.update(IdempotencyKey).where(IdempotencyKey.user_id == user["id"]).values(
            created_at=utcnow() - timedelta(hours=25), expires_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
        db.session.remove()
    second = post(front, user, "/codestudio/run", body, "expiring")
    assert second.status_code == 200 and not replayed(second)
    assert second.json()["id"] != first.json()["id"]
    assert counts(app, user) == {"executions": 2, "usage": 2, "batches": 0, "keys": 1}  # the old key is gone
    third = post(front, user, "/codestudio/run", body, "expiring")
    assert replayed(third) and third.json()["id"] == second.json()["id"]


# control characters other than tab never reach the API: the front refuses the request (400)
def test_the_sweep_deletes_expired_keys_of_every_user(app, front, make_user):
    from app.extensions import db
    from app.models import IdempotencyKey, utcnow
    from app.services.idempotency import expire_keys

    idle, active = make_user(), make_user()
    body = {"language": "python", "code": "print(1)", "wait": False}
    for who, key in ((idle, "old-1"), (idle, "old-2"), (active, "kept")):
        assert post(front, who, "/codestudio/run", body, key).status_code == 202
    with app.app_context():
        db.session.execute(sa.update(IdempotencyKey).where(IdempotencyKey.user_id == idle["id"]).values(
            expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        assert expire_keys(1000) >= 2
        db.session.remove()
    assert counts(app, idle)["keys"] == 0 and counts(app, active)["keys"] == 1
    assert counts(app, idle)["executions"] == 2  # what the keys named stays


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there"])
def test_an_invalid_key_is_refused(app, front, user, key):
    run = {"language": "python", "code": "print(1)"}
    batch = {"language": "python", "tests": SUM_TESTS, "submissions": [{"id": "a", "code": ADD}]}
    for path, body in (("/codestudio/run", run), ("/codestudio/batch", batch)):
        status, answer = post_raw(front, path, body, user["key"], f"Idempotency-Key: {key}".encode("latin-1"))
        assert status == 422, answer
        assert json.loads(answer)["code"] == "invalid_idempotency_key", answer
    assert counts(app, user) == {"executions": 0, "usage": 0, "batches": 0, "keys": 0}


def post_raw(front, path: str, body: dict, api_key: str, header: bytes) -> tuple[int, bytes]:
    """A POST with one header line written byte for byte (HTTP clients refuse to send some of the
    values a caller may still send); (status, body)."""
    data = json.dumps(body).encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: {front.settings.host}\r\nAuthorization: Bearer {api_key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\nConnection: close\r\n").encode()
    with socket.create_connection((front.settings.host, front.settings.port), timeout=30) as sock:
        sock.sendall(head + header + b"\r\n\r\n" + data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    _, _, payload = rest.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), payload


@pytest.mark.usefixtures("worker")
def test_the_longest_key_is_accepted(app, front, user):
    key = "k" + "".join(chr(32 + i % 95) for i in range(253)) + "k"  # every printable character
    body = {"language": "python", "code": "print(1)"}
    first, again = (post(front, user, "/codestudio/run", body, key) for _ in range(2))
    assert first.status_code == again.status_code == 200 and replayed(again)
    assert first.json()["id"] == again.json()["id"]


def stream(front, user, body: dict, key: str) -> tuple[requests.Response, list[tuple[str, dict]]]:
    response = requests.post(f"{front.url}/codestudio/run", json=body, stream=True, timeout=60,
                             headers={**user["headers"], "Accept": "text/event-stream", "Idempotency-Key": key})
    assert response.status_code == 200, response.text
    return response, list(read_event_stream(response))


@pytest.mark.usefixtures("worker")
def test_an_event_stream_replayed_streams_the_same_run_again(app, front, user):
    body = {"language": "python", "code": "print(input())", "stdin": "streamed\n"}
    first, events = stream(front, user, body, "stream-key")
    again, replay = stream(front, user, body, "stream-key")
    assert not replayed(first) and replayed(again)
    assert events[0][0] == replay[0][0] == "accepted"
    assert events[0][1]["execution_id"] == replay[0][1]["execution_id"]
    assert events[-1][0] == replay[-1][0] == "exit"
    assert replay[-1][1]["result"] == events[-1][1]["result"]
    assert replay[-1][1]["result"]["stdout"] == "streamed\n"
    assert counts(app, user) == {"executions": 1, "usage": 1, "batches": 0, "keys": 1}


@pytest.mark.usefixtures("worker")
@pytest.mark.parametrize("where", ["header", "frame"])
def test_a_live_start_replayed_answers_an_error_frame_naming_the_run(app, front, user, where):
    def start(code: str) -> LiveClient:
        header = {"Idempotency-Key": "live-key"} if where == "header" else {}
        client = LiveClient(front, key=user["key"], headers=header)
        field = {"idempotency_key": "live-key"} if where == "frame" else {}
        client.send(type="start", language="python", code=code, **field)
        return client

    first = start("print('live')")
    accepted = first.next()
    assert accepted["type"] == "accepted"
    last, close = first.finish()
    assert last["type"] == "exit" and last["result"]["stdout"] == "live\n" and close == 1000
    replay, close = start("print('live')").refusal()
    assert replay["type"] == "error" and replay["code"] == "idempotency_key_replayed", replay
    assert replay["execution_id"] == accepted["execution_id"] and close == 4409
    other, close = start("print('other')").refusal()
    assert other["code"] == "idempotency_key_reused" and close == 4422
    assert counts(app, user) == {"executions": 1, "usage": 1, "batches": 0, "keys": 1}


@pytest.mark.usefixtures("worker")
def test_parallel_live_starts_with_one_key_start_one_run(app, front, user):
    def start() -> dict:
        client = LiveClient(front, key=user["key"], headers={"Idempotency-Key": "live-parallel"})
        client.send(type="start", language="python", code="print('one')")
        first = client.next()
        if first["type"] == "accepted":
            last, _ = client.finish()
            return {"accepted": first["execution_id"], "result": last["result"]["id"]}
        client.close()
        return first

    answers = in_parallel(start, 5)
    winners = [a for a in answers if "accepted" in a]
    assert len(winners) == 1, answers
    run_id = winners[0]["accepted"]
    assert winners[0]["result"] == run_id
    assert [(a["code"], a["execution_id"]) for a in answers if "accepted" not in a] == \
        [("idempotency_key_replayed", run_id)] * 4
    assert counts(app, user) == {"executions": 1, "usage": 1, "batches": 0, "keys": 1}


def test_a_malformed_key_on_the_live_upgrade_is_refused_before_it(front, user):
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        LiveClient(front, key=user["key"], headers={"Idempotency-Key": "x" * 256})
    assert refused.value.status_code == 422


def test_the_openapi_document_names_the_header(front):
    spec = requests.get(f"{front.url}/codestudio/openapi.json", timeout=10).json()
    for path in ("/codestudio/run", "/codestudio/batch"):
        operation = spec["paths"][path]["post"]
        assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in operation["parameters"])
        success = operation["responses"]["200" if path.endswith("run") else "202"]
        assert "Idempotent-Replayed" in success["headers"]
