"""Redis crashes under load and comes back empty: the API answers 503 problems meanwhile, API and
worker recover by themselves, and every accepted execution and batch still finishes, once."""
from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from config.settings import broker_url
from tests.support.outage import RedisServer, billed, rows, submit_async
from tests.support.polling import wait_until
from tests.support.workers import isolated_worker

LONG = "import time\ntime.sleep(3)\nprint('long', {i})"
SHORT = "print('short', {i})"
SUM = "a, b = map(int, input().split())\nprint(a + b)"
TESTS = [{"name": "one", "stdin": "1 2\n", "expected_output": "3\n"},
         {"name": "two", "stdin": "5 -2\n", "expected_output": "3\n"}]
# recovery looks every second; queued 3 s or 3 s past a run's limits counts as lost
RECOVERY = {"RECOVERY_INTERVAL_SECONDS": "1", "RECOVERY_QUEUED_AFTER_SECONDS": "3",
            "RECOVERY_RUNNING_GRACE_SECONDS": "3"}


def assert_unavailable(response):
    assert response.status_code == 503 and response.mimetype == "application/problem+json", response.data
    assert response.get_json()["code"] == "broker_unavailable" and response.headers["Retry-After"]
    assert "Traceback" not in response.get_data(as_text=True)
    return response.get_json()


def waited_in_flight(client, headers, results):
    results.append(client.post("/codestudio/run", headers=headers, json={
        "language": "python", "code": SHORT.format(i=repr("waited")), "limits": {"timeout": 6}}))


@pytest.mark.slow
def test_redis_restart_under_load_loses_nothing(app_with, stack_env, make_user, tmp_path):
    server = RedisServer(tmp_path)
    api = app_with(REDIS_URL=server.url, CELERY_BROKER_URL=broker_url(server.url))
    client, headers = api.test_client(), make_user("ultra")["headers"]
    try:
        env = {**stack_env, **RECOVERY, "REDIS_URL": server.url}
        with isolated_worker(api, env, tmp_path / "worker.log", "redis-restart", "interactive,batch") as worker:
            # both worker processes busy with a long run; the rest waits in Redis
            long_ids = [submit_async(client, headers, LONG.format(i=i), 6) for i in range(2)]
            wait_until(lambda: all(r.status == "running" for r in rows(api, long_ids).values()), 30,
                       what="long runs start")
            short_ids = [submit_async(client, headers, SHORT.format(i=i), 6) for i in range(5)]
            batch = client.post("/codestudio/batch", headers=headers, json={
                "language": "python", "tests": TESTS, "limits": {"timeout": 6},
                "submissions": [{"id": "a", "code": SUM}, {"id": "b", "code": SUM}]})
            assert batch.status_code == 202, batch.get_data(as_text=True)
            waited = []
            thread = threading.Thread(target=waited_in_flight, args=(client, headers, waited))
            thread.start()
            wait_until(lambda: api.extensions["redis"].llen("lang.python") >= 6, 10, what="the waited run is queued")

            server.crash()
            thread.join(timeout=30)
            assert waited[0].status_code == 202, waited[0].data  # accepted before the crash: not a failure
            waited_id = waited[0].get_json()["id"]
            assert waited[0].headers["Location"].endswith(waited_id)
            before = set(rows_of_user(api, headers))
            refused = [assert_unavailable(client.post("/codestudio/run", headers=headers, json={
                "language": "python", "code": "print(1)", "wait": wait})) for wait in (True, False)]
            assert_unavailable(client.post("/codestudio/batch", headers=headers, json={
                "language": "python", "tests": TESTS, "submissions": [{"id": "c", "code": SUM}]}))
            # reads need only the database (rate limits fall back to memory); readiness says what is down
            assert client.get(f"/codestudio/executions/{long_ids[0]}", headers=headers).status_code == 200
            assert client.get("/readyz").status_code == 503 and client.get("/healthz").status_code == 200
            # a refused run is never left half-accepted: ended at once, recorded and billed (nothing)
            ended = set(rows_of_user(api, headers)) - before
            assert ended == {body["execution_id"] for body in refused if "execution_id" in body}
            assert {(r.status, r.message) for r in rows(api, ended).values()} <= {
                ("internal_error", "could not enqueue: broker unavailable")}

            server.start()  # empty: every message that was queued is gone
            recovered = wait_until(lambda: ok_run(client, headers), 40, what="a waited run succeeds again")
            assert recovered.get_json()["stdout"] == "1\n"
            ids = long_ids + short_ids + [waited_id]
            wait_until(lambda: all(r.status != "queued" and r.status != "running"
                                   for r in rows(api, ids).values()), 60, what="every accepted run finishes")
            body = wait_until(lambda: done_batch(client, headers, batch.get_json()["id"]), 30,
                              what="the batch finishes")
            assert worker["proc"].poll() is None  # the same worker rode it out
        final = rows(api, ids)
        assert {i: (final[i].status, final[i].stdout) for i in ids} == {
            **{i: ("success", f"long {n}\n") for n, i in enumerate(long_ids)},
            **{i: ("success", f"short {n}\n") for n, i in enumerate(short_ids)},
            waited_id: ("success", "short waited\n")}
        # the long runs were cancelled mid-run and taken over once; the rest ran once
        assert [final[i].attempts for i in long_ids] == [2, 2]
        assert all(final[i].attempts == 1 for i in short_ids + [waited_id])
        from app.models import BatchCase, UsageRecord

        assert billed(api, UsageRecord.execution_id, ids + list(ended)) == {i: 1 for i in ids + list(ended)}
        assert body["progress"] == {"done": 4, "total": 4, "cancelled": 0, "percent": 100.0}
        assert all(r["verdict"] == "accepted" for s in body["submissions"] for r in s["results"]), body
        with api.app_context():
            from app.extensions import db

            cases = db.session.execute(sa.select(BatchCase.id).where(
                BatchCase.batch_id == body["id"])).scalars().all()
        assert billed(api, UsageRecord.batch_case_id, cases) == {c: 1 for c in cases}
    finally:
        server.stop()


def rows_of_user(api, headers):
    from app.extensions import db
    from app.models import ApiKey, Execution
    from app.services.apikeys import digest

    key = headers["Authorization"].split()[1]
    with api.app_context():
        user_id = db.session.execute(sa.select(ApiKey.user_id).where(ApiKey.key_hash == digest(key))).scalar_one()
        return db.session.execute(sa.select(Execution.id).where(Execution.user_id == user_id)).scalars().all()


def ok_run(client, headers):
    response = client.post("/codestudio/run", headers=headers, json={"language": "python", "code": "print(1)"})
    assert response.status_code in (200, 503), response.data  # 503 until it is back, never a 500
    return response if response.status_code == 200 else None


def done_batch(client, headers, batch_id):
    response = client.get(f"/codestudio/batch/{batch_id}", headers=headers)
    return response.get_json() if response.get_json()["status"] == "done" else None
