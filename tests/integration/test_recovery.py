"""Recovery (tasks/recovery.py) and the claim fence, with the session's workers: work whose message
is gone is sent again and finishes once; a duplicate message never runs work another attempt holds."""
from __future__ import annotations

import os
import signal
import threading
from datetime import timedelta

import sqlalchemy as sa

from tasks.recovery import RESENT_PREFIX
from tasks.routing import EXECUTE_TASK, GRADE_TASK
from tests.support.outage import billed, rows
from tests.support.polling import NotInTime, wait_until
from tests.support.workers import idle

SUM = "a, b = map(int, input().split())\nprint(a + b)"
TESTS = [{"name": n, "stdin": stdin, "expected_output": "3\n", "points": 1.0, "args": [], "timeout": 5.0,
          "memory_mb": 128} for n, stdin in (("one", "1 2\n"), ("two", "4 -1\n"))]
AN_HOUR = timedelta(hours=1)


def _insert(app, *rows_to_add):
    from app.extensions import db

    with app.app_context():
        db.session.add_all(rows_to_add)
        db.session.commit()
        return [r.id for r in rows_to_add]


def _execution(user, status, attempts, since):
    from app.models import Execution, utcnow

    return Execution(user_id=user["id"], language="python", code="print('recovered')", timeout=5, memory_mb=128,
                     status=status, attempts=attempts, created_at=utcnow() - since,
                     started_at=utcnow() - since if status == "running" else None)


def test_a_queued_run_whose_message_was_lost_runs_once(app, user, worker):
    (execution_id,) = _insert(app, _execution(user, "queued", 0, AN_HOUR))  # accepted; no message anywhere
    wait_until(lambda: rows(app, [execution_id])[execution_id].status == "success", 30, what="recovery runs it")
    row = rows(app, [execution_id])[execution_id]
    assert (row.stdout, row.attempts) == ("recovered\n", 1)
    from app.models import UsageRecord

    assert billed(app, UsageRecord.execution_id, [execution_id]) == {execution_id: 1}
    # sent once; again only after it waited as long once more (an hour): no flood of duplicates
    ttl = app.extensions["redis"].ttl(f"{RESENT_PREFIX}{EXECUTE_TASK}:{execution_id}:0")
    assert 3500 < ttl <= 3700


def test_an_abandoned_run_is_taken_over_once(app, user, worker):
    """Claimed an hour ago by a worker that is gone (its message with it): taken over as attempt 2."""
    (execution_id,) = _insert(app, _execution(user, "running", 1, AN_HOUR))
    wait_until(lambda: rows(app, [execution_id])[execution_id].status == "success", 30, what="recovery takes it over")
    row = rows(app, [execution_id])[execution_id]
    assert (row.stdout, row.attempts) == ("recovered\n", 2)
    from app.models import UsageRecord

    assert billed(app, UsageRecord.execution_id, [execution_id]) == {execution_id: 1}


def test_a_duplicate_message_never_runs_a_run_another_attempt_holds(app, user, worker):
    (execution_id,) = _insert(app, _execution(user, "running", 1, timedelta(seconds=1)))
    celery = app.extensions["celery"]
    celery.send_task(EXECUTE_TASK, args=[execution_id], kwargs={"language": "python"})
    celery.send_task(EXECUTE_TASK, args=[execution_id], kwargs={"language": "python", "resume_attempt": 7})
    wait_until(lambda: idle(app, worker, "lang.python"), 30, what="the worker handles both messages")
    row = rows(app, [execution_id])[execution_id]
    assert (row.status, row.attempts) == ("running", 1)  # neither a fresh copy nor a wrong attempt claims it
    celery.send_task(EXECUTE_TASK, args=[execution_id], kwargs={"language": "python", "resume_attempt": 1})
    wait_until(lambda: rows(app, [execution_id])[execution_id].status == "success", 30, what="the takeover runs it")
    assert rows(app, [execution_id])[execution_id].attempts == 2


def _batch(app, user, claimed_ago: timedelta):
    """A running batch whose one submission attempt 1 claimed `claimed_ago`, none of its cases run."""
    from app.extensions import db
    from app.models import Batch, BatchCase, BatchSubmission, utcnow

    with app.app_context():
        then = utcnow() - claimed_ago
        sub = BatchSubmission(position=0, ref="s", code=SUM, files=[], status="running", attempts=1, compiles=0,
                              score=0.0, claimed_at=then)
        batch = Batch(user_id=user["id"], language="python", status="running", compare="trim", abs_tol=1e-6,
                      rel_tol=1e-6, tests=TESTS, total=2, done=0, cancelled=0, submissions=[sub],
                      created_at=then, started_at=then)
        db.session.add(batch)
        db.session.flush()
        db.session.add_all(BatchCase(batch_id=batch.id, submission_id=sub.id, test_index=i, status="queued",
                                     points=0.0) for i in range(2))
        db.session.commit()
        return batch.id, sub.id


def _graded(app, batch_id):
    from app.extensions import db
    from app.models import Batch, BatchCase, BatchSubmission, UsageRecord

    with app.app_context():
        batch = db.session.get(Batch, batch_id)
        cases = db.session.execute(sa.select(BatchCase.id, BatchCase.status).where(
            BatchCase.batch_id == batch_id)).all()
        attempts = db.session.execute(sa.select(BatchSubmission.attempts).where(
            BatchSubmission.batch_id == batch_id)).scalar_one()
        status = batch.status
    return status, sorted(s for _, s in cases), attempts, billed(app, UsageRecord.batch_case_id, [c for c, _ in cases])


def test_an_abandoned_batch_submission_is_taken_over_once(app, user, batch_worker):
    batch_id, _ = _batch(app, user, AN_HOUR)
    wait_until(lambda: _graded(app, batch_id)[0] == "done", 30, what="recovery grades it")
    _, verdicts, attempts, usage = _graded(app, batch_id)
    assert (verdicts, attempts, sorted(usage.values())) == (["accepted", "accepted"], 2, [1, 1])


def test_a_duplicate_grade_message_never_runs_a_held_submission(app, user, batch_worker):
    batch_id, submission_id = _batch(app, user, timedelta(seconds=1))
    celery = app.extensions["celery"]
    celery.send_task(GRADE_TASK, args=[submission_id], kwargs={"language": "python"})
    wait_until(lambda: idle(app, batch_worker, "batch.python"), 30, what="the worker handles the message")
    assert _graded(app, batch_id)[:3] == ("running", ["queued", "queued"], 1)
    celery.send_task(GRADE_TASK, args=[submission_id], kwargs={"language": "python", "resume_attempt": 1})
    wait_until(lambda: _graded(app, batch_id)[0] == "done", 30, what="the takeover grades it")
    _, verdicts, attempts, usage = _graded(app, batch_id)
    assert (verdicts, attempts, sorted(usage.values())) == (["accepted", "accepted"], 2, [1, 1])


def test_the_claim_fence(app, user):
    """Who may claim an execution attempt 1 holds (claimed by message "m1"), straight on the store."""
    from app.stores import SqlExecutionStore
    from tasks.ports import Delivery

    (execution_id,) = _insert(app, _execution(user, "running", 1, timedelta(seconds=1)))
    store = SqlExecutionStore()
    with app.app_context():
        from app.extensions import db
        from app.models import Execution

        db.session.get(Execution, execution_id).claimed_by = "m1"
        db.session.commit()
        refused = [Delivery(task_id="m2"),  # a duplicate
                   Delivery(task_id="m2", resume_attempt=2)]  # continuing an attempt that is not the current one
        assert [store.claim(execution_id, "w", d) for d in refused] == [None, None]
        taken = store.claim(execution_id, "w", Delivery(task_id="m1"))  # the broker gave it back: its holder died
        assert taken.attempt == 2
        assert store.claim(execution_id, "w", Delivery(task_id="m3", resume_attempt=2)).attempt == 3  # recovery
        assert db.session.get(Execution, execution_id).claimed_by == "m3"


def _child_query(app) -> None:
    """What a fresh pool process does first: a new connection pool, one query; exits 0 if it worked."""
    from app.extensions import db

    try:
        with app.app_context():
            db.engine.dispose(close=False)
            db.session.execute(sa.text("SELECT count(*) FROM executions"))
        os._exit(0)
    except BaseException:
        os._exit(1)


def _exited(pid: int) -> tuple[int, int] | None:
    """waitpid's (pid, status) once the child has exited."""
    waited = os.waitpid(pid, os.WNOHANG)
    return waited if waited[0] else None


def test_a_pool_process_forked_during_a_look_can_use_the_database(app):
    """The main process's recovery thread queries the database while pool processes are forked:
    no child may inherit the driver's mutexes locked (it would hang on its first query)."""
    from tasks.ports import RecoveryPolicy, ports
    from tasks.recovery import database_in_use

    stop = threading.Event()

    def looking():
        while not stop.is_set():
            with database_in_use:
                ports().lost_work.find(["python"], ["python"], RecoveryPolicy())

    looker = threading.Thread(target=looking)
    looker.start()
    try:
        for _ in range(40):
            pid = os.fork()
            if pid == 0:
                _child_query(app)
            try:
                waited = wait_until(lambda pid=pid: _exited(pid), 10, interval=0.005)
            except NotInTime:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise AssertionError("a process forked during a look hung on its first query") from None
            assert os.waitstatus_to_exitcode(waited[1]) == 0
    finally:
        stop.set()
        looker.join()
