"""A batch's end in the awkward cases: a submission failed before any worker claimed it, a cancel
that reaches a submission after its worker stopped, an attempt superseded by a takeover, and a
batch left `creating`."""
from __future__ import annotations

import time
from datetime import timedelta

import sqlalchemy as sa

from app.services import batches
from tests.support.batches import post_batch
from tests.support.polling import wait_until
from tests.support.workers import idle

BURN = "import time\nend = time.process_time() + 8\nwhile time.process_time() < end:\n    pass\nprint(3)"


def _post(client, user, monkeypatch, tests=3, code="print(3)", send=False, **payload):
    """A batch of one submission; with send=False no task is sent, so the test drives its grading."""
    monkeypatch.setattr(batches, "is_live", lambda *args, **kwargs: True)
    if not send:
        monkeypatch.setattr(batches, "_fan_out", lambda *a, **k: None)
    body = post_batch(client, user, language="python", submissions=[{"id": "s0", "code": code}],
                      tests=[{"name": f"t{i}", "expected_output": "3\n"} for i in range(tests)], **payload).get_json()
    return body["id"], _submission_id(body["id"])


def _submission_id(batch_id: str) -> int:
    from app.extensions import db
    from app.models import BatchSubmission
    sid = db.session.execute(sa.select(BatchSubmission.id).where(BatchSubmission.batch_id == batch_id)).scalar_one()
    db.session.rollback()
    return sid


def _state(batch_id: str) -> dict:
    from app.extensions import db
    from app.models import Batch, BatchCase, BatchSubmission, UsageRecord
    batch = db.session.get(Batch, batch_id)
    state = dict(status=batch.status, done=batch.done, total=batch.total, cancelled=batch.cancelled,
                 submission=db.session.execute(sa.select(BatchSubmission.status).where(
                     BatchSubmission.batch_id == batch_id)).scalar_one(),
                 cases=db.session.execute(sa.select(BatchCase.status).where(BatchCase.batch_id == batch_id)
                                          .order_by(BatchCase.test_index)).scalars().all(),
                 billed=db.session.execute(sa.select(sa.func.count()).select_from(UsageRecord).join(BatchCase).where(
                     BatchCase.batch_id == batch_id)).scalar_one())
    db.session.rollback()
    return state


def _set_batch(batch_id: str, **values) -> None:
    from app.extensions import db
    from app.models import Batch
    db.session.execute(sa.update(Batch).where(Batch.id == batch_id).values(**values))
    db.session.commit()


def test_a_submission_whose_claim_fails_ends_and_completes_its_batch(app, client, make_user, monkeypatch):
    from app.stores import SqlBatchStore
    user = make_user("free")  # one batch queued or running at a time
    from tasks.batch import grade_submission

    def broken_claim(self, *args, **kwargs):
        raise RuntimeError("the claim failed")
    with app.app_context():
        batch_id, sid = _post(client, user, monkeypatch)
        monkeypatch.setattr(SqlBatchStore, "claim_submission", broken_claim)
        assert grade_submission.apply(args=[sid], kwargs={"language": "python"}).state == "FAILURE"
        assert _state(batch_id) == dict(status="done", done=3, total=3, cancelled=0, submission="internal_error",
                                        cases=["internal_error"] * 3, billed=0)
        body = client.get(f"/codestudio/batch/{batch_id}", headers=user["headers"]).get_json()
        assert body["status"] == "done" and [r["verdict"] for r in body["submissions"][0]["results"]] == [
            "internal_error"] * 3
        _post(client, user, monkeypatch)  # the free tier's one concurrent batch is free again


def test_failing_an_unclaimed_submission_of_a_cancelled_batch_gives_its_tests_back(app, client, user, monkeypatch):
    from app.stores import SqlBatchStore
    with app.app_context():
        batch_id, sid = _post(client, user, monkeypatch)
        _set_batch(batch_id, status="cancelled")  # the cancel's first step; it has not reached the submission yet
        assert SqlBatchStore().fail_cases(sid, "internal_error", "infrastructure error", None) == 3
        assert _state(batch_id) == dict(status="cancelled", done=3, total=3, cancelled=3, submission="cancelled",
                                        cases=[], billed=0)


def test_a_cancel_reaching_a_submission_after_its_worker_stopped_ends_it(app, client, user, monkeypatch,
                                                                          batch_worker):
    """The cancel marks the batch and stops the running test; its worker refuses the next tests and
    leaves; only then does the cancel reach the submission's queued cases (a later group)."""
    from app.extensions import db
    from app.models import BatchCase
    from app.services import batch_rows
    from tasks.batch_stop import request_stop
    with app.app_context():
        batch_id, _ = _post(client, user, monkeypatch, code=BURN, send=True, limits={"timeout": 10})
        deadline = time.monotonic() + 60
        wait_until(lambda: "running" in _state(batch_id)["cases"], 60,
                   what=lambda: f"a case running: {_state(batch_id)}")
        _set_batch(batch_id, status="cancelled")
        request_stop(app.extensions["redis"], batch_id)
        wait_until(lambda: _state(batch_id)["cases"][0] == "stopped", deadline - time.monotonic(),
                   what=lambda: f"the first case stopped: {_state(batch_id)}")
        # the worker refuses the next tests and closes what it can
        wait_until(lambda: idle(app, batch_worker, "batch.python"), 30, what="the worker leaves the submission")
        batch_rows.cancel_unrun(batch_id, 3, None)
        state = _state(batch_id)
        assert state == dict(status="cancelled", done=3, total=3, cancelled=2, submission="cancelled",
                             cases=["stopped", "cancelled", "cancelled"], billed=1), state
        stopped_cpu = db.session.execute(sa.select(BatchCase.cpu_time).where(
            BatchCase.batch_id == batch_id, BatchCase.test_index == 0)).scalar_one()
        db.session.rollback()
        assert stopped_cpu > 0


def test_a_superseded_attempt_neither_runs_nor_records_nor_ends_the_takeovers_cases(app, client, user, monkeypatch):
    from app.stores import SqlBatchStore
    from sandbox import RunResult
    from tasks.ports import Delivery
    ok = RunResult(status="success", cpu_time=0.1, wall_time=0.1, stdout="3\n")
    with app.app_context():
        batch_id, sid = _post(client, user, monkeypatch)
        store = SqlBatchStore()
        slow = store.claim_submission(sid, "w1", Delivery(task_id="task-1"))
        assert store.start_case(slow, slow.pending[0])
        # recovery judged attempt 1 lost (it is only slow) and sent a takeover
        takeover = store.claim_submission(sid, "w2", Delivery(task_id="task-2", resume_attempt=1))
        assert takeover is not None and takeover.attempt == 2
        assert store.start_case(takeover, takeover.pending[0])
        assert not store.start_case(slow, slow.pending[1])  # superseded: stops at its next case
        assert not store.finish_case(slow, slow.pending[0], slow.tests[0], ok, "accepted", None)
        assert store.fail_cases(sid, "internal_error", "the old attempt's time limit", slow.attempt) == 2
        assert store.finish_case(takeover, takeover.pending[0], takeover.tests[0], ok, "accepted", None)
        store.close_submission(sid)
        assert _state(batch_id) == dict(status="done", done=3, total=3, cancelled=0, submission="done",
                                        cases=["accepted", "internal_error", "internal_error"], billed=1)


def test_failing_a_cancelled_batchs_started_case_bills_it_and_gives_back_the_rest(app, client, user, monkeypatch):
    from app.extensions import db
    from app.models import UsageRecord
    from app.stores import SqlBatchStore
    from tasks.ports import Delivery
    with app.app_context():
        batch_id, sid = _post(client, user, monkeypatch)
        store = SqlBatchStore()
        claim = store.claim_submission(sid, "w1", Delivery(task_id="task-1"))
        assert store.start_case(claim, claim.pending[0])  # its worker is lost with the jail running
        _set_batch(batch_id, status="cancelled")
        assert store.fail_cases(sid, "internal_error", "gave up", claim.attempt) == 3
        assert store.fail_cases(sid, "internal_error", "gave up", claim.attempt) == 0
        assert _state(batch_id) == dict(status="cancelled", done=3, total=3, cancelled=2, submission="cancelled",
                                        cases=["stopped", "cancelled", "cancelled"], billed=1)
        cpu = db.session.execute(sa.select(UsageRecord.cpu_seconds).where(
            UsageRecord.batch_case_id == claim.pending[0])).scalar_one()
        db.session.rollback()
        assert cpu == 0.0
    used = client.get("/codestudio/stats", headers=user["headers"]).get_json()["quota"]["executions_today"]["used"]
    assert used == 1


def test_a_batch_still_being_created_cannot_be_cancelled(app, client, user, monkeypatch):
    with app.app_context():
        batch_id, _ = _post(client, user, monkeypatch)
        _set_batch(batch_id, status="creating")
    answer = client.delete(f"/codestudio/batch/{batch_id}", headers=user["headers"])
    assert answer.status_code == 409 and answer.content_type == "application/problem+json"
    assert answer.get_json()["code"] == "batch_not_ready"


def test_recovery_removes_a_stale_creating_batch_and_finds_an_interrupted_cancel(app, client, user, monkeypatch):
    from app.extensions import db
    from app.models import Batch, utcnow
    from app.stores import SqlLostWork
    from tasks.ports import RecoveryPolicy
    with app.app_context():
        stale, _ = _post(client, user, monkeypatch)
        _set_batch(stale, status="creating", created_at=utcnow() - timedelta(minutes=11))
        cut_short, sid = _post(client, user, monkeypatch)
        _set_batch(cut_short, status="cancelled")  # the cancel died before reaching its submissions
        lost = SqlLostWork(app).find([], ["python"], RecoveryPolicy(queued_after=0, running_grace=0))
        assert sid in [item.id for item in lost]
        assert db.session.get(Batch, stale) is None
        db.session.rollback()


def test_a_batch_whose_creation_outlived_its_reservation_is_refused(app, client, user, monkeypatch):
    from app.extensions import db
    from app.models import Batch, utcnow
    from app.services import batch_rows
    real_insert = batch_rows.insert_submissions

    def slow_insert(batch_id, rows):  # the request stalls past the reservation's lapse
        _set_batch(batch_id, created_at=utcnow() - timedelta(minutes=11))
        return real_insert(batch_id, rows)
    monkeypatch.setattr(batch_rows, "insert_submissions", slow_insert)
    monkeypatch.setattr(batches, "is_live", lambda *args, **kwargs: True)
    monkeypatch.setattr(batches, "_fan_out", lambda *a, **k: None)
    with app.app_context():
        before = db.session.execute(sa.select(sa.func.count()).select_from(Batch)).scalar_one()
        answer = post_batch(client, user, expect=503, language="python", submissions=[{"id": "s0", "code": "1"}],
                            tests=[{"name": "t0", "expected_output": ""}])
        assert answer.get_json()["code"] == "batch_expired"
        assert db.session.execute(sa.select(sa.func.count()).select_from(Batch)).scalar_one() == before
        db.session.rollback()
