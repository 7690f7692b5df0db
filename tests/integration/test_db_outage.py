"""The database goes away under a worker: the API answers 503 problems, the worker retries its
infrastructure errors with backoff, and every execution accepted before the outage finishes once,
billed once, after the database is back. Recovery is switched off here: the retries alone do it.

PostgreSQL: the worker (and a second API) reach the server through a TCP link the test cuts.
SQLite: the test holds the write lock, so the worker's writes fail with "database is locked"."""
from __future__ import annotations

import pytest

from config.settings import broker_url
from tests.support.outage import RedisServer, billed, database_outage, outage_of, rows, submit_async
from tests.support.polling import wait_until
from tests.support.workers import isolated_worker

SLEEPY = "import time\ntime.sleep(1)\nprint('in flight', {i})"
SQLITE_BUSY_SECONDS = 10  # the busy timeout app/__init__.py gives every connection


@pytest.mark.slow
def test_database_outage_worker_retries_and_loses_nothing(app, app_with, stack_env, user, tmp_path):
    server = RedisServer(tmp_path)
    fault = database_outage(app.config["SQLALCHEMY_DATABASE_URI"])
    api = app_with(REDIS_URL=server.url, CELERY_BROKER_URL=broker_url(server.url))
    # an API on the worker's side of the outage (PostgreSQL: behind the same link)
    cut_off = app_with(REDIS_URL=server.url, CELERY_BROKER_URL=broker_url(server.url),
                       SQLALCHEMY_DATABASE_URI=fault.worker_url,
                       SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True, "connect_args": _connect_args(fault)})
    env = {**stack_env, "REDIS_URL": server.url, "RECOVERY_QUEUED_AFTER_SECONDS": "600",
           "RECOVERY_RUNNING_GRACE_SECONDS": "600",
           **({"DATABASE_URL": fault.worker_url} if fault.worker_url.startswith("postgresql") else {})}
    log = tmp_path / "worker.log"
    client = api.test_client()
    try:
        with isolated_worker(api, env, log, "db-outage", "interactive"):
            in_flight = [submit_async(client, user["headers"], SLEEPY.format(i=i), 5) for i in range(2)]
            # behind them: both worker processes are busy
            queued = submit_async(client, user["headers"], "print('queued')", 5)
            wait_until(lambda: all(r.status == "running" for r in rows(api, in_flight).values()), 30, what="runs start")
            with outage_of(fault):
                refused = cut_off.test_client().post("/codestudio/run", headers=user["headers"],
                                                     json={"language": "python", "code": "print(1)"})
                # until the runs in flight have failed recording their results
                wait_until(lambda: all(_retried(log, i) for i in in_flight), _outage_seconds(fault) + 30,
                           interval=0.2, what="the runs in flight retrying")
            assert refused.status_code == 503 and refused.mimetype == "application/problem+json"
            assert refused.get_json()["code"] == "database_unavailable" and refused.headers["Retry-After"]
            assert "Traceback" not in refused.get_data(as_text=True)
            ids = [*in_flight, queued]
            wait_until(lambda: all(r.status not in ("queued", "running") for r in rows(api, ids).values()), 60,
                       what="every accepted run finishes")
        final = rows(api, ids)
        assert [(final[i].status, final[i].stdout) for i in ids] == [
            ("success", "in flight 0\n"), ("success", "in flight 1\n"), ("success", "queued\n")]
        # the runs in flight could not record their result: each retry continued its attempt (then 2)
        assert [final[i].attempts for i in ids] == [2, 2, 1]
        from app.models import UsageRecord

        assert billed(api, UsageRecord.execution_id, ids) == {i: 1 for i in ids}
        retried = _retries(log)
        assert all(any(i in line for line in retried) for i in in_flight), retried
    finally:
        server.stop()


def _retries(log) -> list[str]:
    return [line for line in log.read_text().splitlines() if "infrastructure error, retry" in line]


def _retried(log, execution_id: str) -> bool:
    return any(execution_id in line for line in _retries(log))


def _outage_seconds(fault) -> float:
    # SQLite: a write waits out the busy timeout before it fails; the runs finish 1 s in
    return 5.0 if fault.worker_url.startswith("postgresql") else SQLITE_BUSY_SECONDS + 2.5


def _connect_args(fault) -> dict:
    return {"connect_timeout": 2} if fault.worker_url.startswith("postgresql") else {}

