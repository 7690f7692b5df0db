"""A batch survives kill -9 of the worker process grading it: nothing lost, nothing twice."""
from __future__ import annotations

import os
import signal

import psutil
import sqlalchemy as sa

from tests.support.batches import SUM_TESTS, post_batch, wait_batch, wait_progress
from tests.support.polling import wait_until
from tests.support.sandbox_suite import runs_a_jail


def _grading_pool_process(worker_pid: int, seconds: float) -> psutil.Process:
    """The pool process that has a jail running right now."""
    def grading() -> psutil.Process | None:
        for child in psutil.Process(worker_pid).children():
            try:
                if runs_a_jail(child):
                    return child
            except psutil.NoSuchProcess:
                continue
        return None

    return wait_until(grading, seconds, interval=0.02, what="a pool process starting a jail")


def test_killing_a_worker_mid_batch_loses_nothing(app, client, user, batch_worker):
    code = "import time\na, b = map(int, input().split())\ntime.sleep(0.4)\nprint(a + b)"
    submissions = [{"id": f"s{i}", "code": code} for i in range(4)]
    batch_id = post_batch(client, user, language="python", tests=SUM_TESTS, submissions=submissions).get_json()["id"]
    wait_progress(client, user, batch_id, 2)
    victim = _grading_pool_process(batch_worker["proc"].pid, 30)
    os.kill(victim.pid, signal.SIGKILL)

    body = wait_batch(client, user, batch_id, seconds=120)
    assert body["status"] == "done" and body["progress"]["done"] == body["progress"]["total"] == 12
    assert all(r["verdict"] == "accepted" for s in body["submissions"] for r in s["results"]), body
    assert all(s["score"] == 6 for s in body["submissions"])
    with app.app_context():
        from app.extensions import db
        from app.models import BatchCase, BatchSubmission, UsageRecord

        billed = db.session.execute(
            sa.select(BatchCase.id, sa.func.count(UsageRecord.id)).outerjoin(UsageRecord)
            .where(BatchCase.batch_id == batch_id).group_by(BatchCase.id)).all()
        assert len(billed) == 12 and all(n == 1 for _, n in billed), billed  # each case billed exactly once
        attempts = db.session.execute(sa.select(BatchSubmission.attempts).where(
            BatchSubmission.batch_id == batch_id)).scalars().all()
        assert max(attempts) == 2 and sorted(attempts).count(1) >= 2, attempts  # the killed one ran again


def test_cancelling_while_a_killed_workers_test_is_left_running_ends_every_case(app, client, user, batch_worker):
    """The worker dies mid-test, the batch is cancelled: the case it left running ran, so it ends
    `stopped` and is billed once (never given back); the case that never started is given back;
    what is billed is exactly what is not given back to the quota."""
    burn = "import time\nend = time.process_time() + 8\nwhile time.process_time() < end:\n    pass\nprint(3)"
    tests = [{"name": f"t{i}", "expected_output": "3\n"} for i in range(2)]
    batch_id = post_batch(client, user, language="python", tests=tests, limits={"timeout": 10},
                          submissions=[{"id": "s0", "code": burn}]).get_json()["id"]
    victim = _grading_pool_process(batch_worker["proc"].pid, 60)
    os.kill(victim.pid, signal.SIGKILL)
    assert client.delete(f"/codestudio/batch/{batch_id}", headers=user["headers"]).status_code == 200

    def ended() -> dict | None:
        body = client.get(f"/codestudio/batch/{batch_id}", headers=user["headers"]).get_json()
        return body if body["progress"]["done"] >= 2 else None

    body = wait_until(ended, 60, interval=0.2, what="both cases ended")
    verdicts = [r["verdict"] for r in body["submissions"][0]["results"]]
    assert verdicts == ["stopped", "cancelled"] and body["progress"]["cancelled"] == 1, body
    with app.app_context():
        from app.extensions import db
        from app.models import BatchCase, UsageRecord

        billed = db.session.execute(sa.select(sa.func.count()).select_from(UsageRecord).join(BatchCase).where(
            BatchCase.batch_id == batch_id)).scalar_one()
    assert billed == verdicts.count("stopped")
    quota = client.get("/codestudio/stats", headers=user["headers"]).get_json()["quota"]["executions_today"]
    assert quota["used"] == billed
