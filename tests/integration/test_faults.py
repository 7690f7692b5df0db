"""Infrastructure faults become 503 problems, and long waits become 202s."""

from tests.support.polling import get_json, wait_until
from tests.support.redis_dbs import spare_database
from tests.support.sandbox_suite import runs_a_jail
from tests.support.workers import wait_for_worker


def test_broker_down_is_503(app_with, user, tmp_path):
    dead = f"unix://{tmp_path}/nobody.sock"
    broken = app_with(REDIS_URL=dead, CELERY_BROKER_URL=dead.replace("unix://", "redis+socket://"))
    response = broken.test_client().post("/codestudio/run", json={"language": "python", "code": "1"},
                                         headers=user["headers"])
    assert response.status_code == 503 and response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "broker_unavailable"
    ready = broken.test_client().get("/readyz")
    assert ready.status_code == 503 and "redis" in ready.get_json()["detail"]


def test_database_down_is_503_without_a_stack_trace(app_with, user):
    broken = app_with(SQLALCHEMY_DATABASE_URI="postgresql+psycopg://postgres@127.0.0.1:1/nowhere",
                      SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 2}})
    response = broken.test_client().get("/codestudio/executions", headers=user["headers"])
    assert response.status_code == 503 and response.get_json()["code"] == "database_unavailable"
    assert "Traceback" not in response.get_data(as_text=True)
    assert broken.test_client().get("/readyz").status_code == 503


def test_a_run_longer_than_the_wait_cap_answers_202(app_with, user, worker):
    impatient = app_with(RUN_WAIT_CAP_SECONDS=1)
    client = impatient.test_client()
    response = client.post("/codestudio/run", json={"language": "python", "code": "import time; time.sleep(3)"},
                           headers=user["headers"])
    assert response.status_code == 202, response.get_json()
    assert response.headers["Location"].endswith(response.get_json()["id"])


def test_a_worker_process_killed_mid_run_loses_nothing(app_with, stack_env, user, tmp_path):
    """kill -9 of the pool process running an execution: the message is redelivered,
    the execution finishes exactly once (attempt 2) and is billed once."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    import psutil
    import sqlalchemy as sa

    from config.settings import broker_url

    redis_url = spare_database(stack_env["REDIS_URL"], 4)  # a broker only this test's worker reads
    isolated = app_with(REDIS_URL=redis_url, CELERY_BROKER_URL=broker_url(redis_url))
    isolated.extensions["redis"].flushdb()
    name = f"killme-{os.getpid()}@{os.uname().nodename}"
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [str(Path(sys.executable).with_name("celery")), "-A", "worker:celery", "worker", "-c", "1", "-Q", "lang.python",
         "-n", name, "--without-mingle", "--without-gossip"],
        cwd=Path(__file__).resolve().parents[2], env={**os.environ, **stack_env, "REDIS_URL": redis_url},
        stdout=open(log, "w"), stderr=subprocess.STDOUT)
    try:
        wait_for_worker(isolated.extensions["redis"], name, worker, log)
        client = isolated.test_client()
        code = "import time\ntime.sleep(3)\nprint('done')"
        execution_id = client.post("/codestudio/run", json={"language": "python", "code": code, "wait": False},
                                   headers=user["headers"]).get_json()["id"]

        def jailing() -> psutil.Process | None:  # the pool process that spawned the jail
            return next((child for child in psutil.Process(worker.pid).children() if runs_a_jail(child)), None)

        nsjail_parent = wait_until(jailing, 60, what=lambda: log.read_text()[-3000:])
        os.kill(nsjail_parent.pid, signal.SIGKILL)
        deadline = time.monotonic() + 90

        def ended() -> dict | None:
            body = get_json(client, f"/codestudio/executions/{execution_id}", user["headers"], deadline)
            return body if body["status"] not in ("queued", "running") else None

        body = wait_until(ended, 90, interval=0.5, what=lambda: log.read_text()[-3000:])
        assert (body["status"], body["stdout"]) == ("success", "done\n"), body
        with isolated.app_context():
            from app.extensions import db
            from app.models import Execution, UsageRecord

            assert db.session.get(Execution, execution_id).attempts == 2
            assert db.session.execute(sa.select(sa.func.count()).where(
                UsageRecord.execution_id == execution_id)).scalar_one() == 1
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        isolated.extensions["redis"].flushdb()
