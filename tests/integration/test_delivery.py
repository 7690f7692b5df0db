"""Queueing semantics: routing, duplicate deliveries, bounded attempts, no live worker."""
import time

import sqlalchemy as sa

from tasks.routing import EXECUTE_TASK
from tests.support.polling import wait_until
from tests.support.workers import idle


def wait_final(app, execution_id, seconds=30):
    """The execution's row once it is final."""
    from app.extensions import db
    from app.models import Execution
    from sandbox import FINAL_STATUSES

    def final_row():
        with app.app_context():
            row = db.session.get(Execution, execution_id)
            return row if row.status in FINAL_STATUSES else None

    return wait_until(final_row, seconds, interval=0.1, what=f"{execution_id} final")


def usage_count(app, execution_id):
    from app.extensions import db
    from app.models import UsageRecord

    with app.app_context():
        return db.session.execute(
            sa.select(sa.func.count()).where(UsageRecord.execution_id == execution_id)).scalar_one()


def test_router_sends_each_language_to_its_own_queue(app):
    router = app.extensions["celery"].amqp.router
    assert router.route({}, EXECUTE_TASK, args=("x",), kwargs={"language": "python"})["queue"].name == "lang.python"
    assert router.route({}, EXECUTE_TASK, args=("x",), kwargs={"language": "javascript"})["queue"].name == \
        "lang.javascript"


def test_duplicate_deliveries_record_and_bill_exactly_once(app, client, user, worker):
    response = client.post("/codestudio/run", json={"language": "python", "code": "import time; time.sleep(0.5); "
                                                    "print('once')", "wait": False}, headers=user["headers"])
    execution_id = response.get_json()["id"]
    celery = app.extensions["celery"]
    for _ in range(2):  # as if the broker redelivered while the first copy runs
        celery.send_task(EXECUTE_TASK, args=[execution_id], kwargs={"language": "python"})
    row = wait_final(app, execution_id)
    wait_until(lambda: idle(app, worker, "lang.python"), 30, what="the worker handles every copy")
    assert row.status == "success" and row.stdout == "once\n"
    assert row.attempts == 1  # a copy that found it running did not start a second run
    assert usage_count(app, execution_id) == 1
    celery.send_task(EXECUTE_TASK, args=[execution_id], kwargs={"language": "python"})  # after it is final
    wait_until(lambda: idle(app, worker, "lang.python"), 30, what="the worker handles the copy")
    assert usage_count(app, execution_id) == 1
    assert wait_final(app, execution_id).finished_at == row.finished_at


def test_attempts_are_bounded(app, client, user, worker):
    from app.extensions import db
    from app.models import Execution, User

    with app.app_context():
        owner = db.session.get(User, user["id"])
        row = Execution(user_id=owner.id, language="python", code="print(1)", timeout=5, memory_mb=128,
                        status="running", attempts=3)
        db.session.add(row)
        db.session.commit()
        execution_id = row.id
    # as recovery (or the broker's redelivery) would take over the abandoned third attempt
    app.extensions["celery"].send_task(EXECUTE_TASK, args=[execution_id],
                                       kwargs={"language": "python", "resume_attempt": 3})
    row = wait_final(app, execution_id)
    assert row.status == "internal_error" and "attempts" in row.message
    assert usage_count(app, execution_id) == 1


def test_language_without_a_live_worker(app, stack_env, user, worker):
    """Against a Redis database no worker serves: wait fails fast with 503, async stays queued."""
    from app import create_app
    from config.settings import broker_url
    from tests.support.redis_dbs import spare_database

    url = stack_env["REDIS_URL"]
    lonely = spare_database(url, 1)
    lonely_app = create_app({"REDIS_URL": lonely, "CELERY_BROKER_URL": broker_url(lonely)})
    lonely_client = lonely_app.test_client()
    start = time.monotonic()
    response = lonely_client.post("/codestudio/run", json={"language": "python", "code": "print(1)"},
                                  headers=user["headers"])
    assert response.status_code == 503 and response.get_json()["code"] == "no_worker"
    assert time.monotonic() - start < 2
    langs = lonely_client.get("/codestudio/languages").get_json()
    assert not any(lang["available"] for lang in langs)
    queued = lonely_client.post("/codestudio/run", json={"language": "python", "code": "print(1)", "wait": False},
                                headers=user["headers"])
    assert queued.status_code == 202 and queued.get_json()["status"] == "queued"
    lonely_app.extensions["redis"].flushdb()
    app.extensions["celery"].set_default()


def test_worker_refuses_to_start_without_a_usable_sandbox(stack_env, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, **stack_env, "SANDBOX_TINI": str(tmp_path / "no-tini")}
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("celery")), "-A", "worker:celery", "worker", "-c", "1",
         "-n", f"refuse-{os.getpid()}@%h", "--without-mingle", "--without-gossip"],
        cwd=Path(__file__).resolve().parents[2], env=env, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 78
    assert "sandbox unusable" in proc.stdout + proc.stderr
