"""The per-run path outside the jail does what it must in few round trips: a claim reads what the
run needs in one statement, a new run is sent without reading its row back, and every waiter on
an execution wakes from the worker's one completion signal."""
from __future__ import annotations

import time
from contextlib import contextmanager

import sqlalchemy as sa


@contextmanager
def statements(app):
    """The SQL statements the app's engine runs inside the block."""
    from app.extensions import db

    seen: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany):
        seen.append(" ".join(statement.split()))

    engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)


def _queued(app, user_id: int, **fields) -> str:
    from app.extensions import db
    from app.models import Execution

    with app.app_context():
        row = Execution(user_id=user_id, language="python", code="print(1)", timeout=5, memory_mb=128, **fields)
        db.session.add(row)
        db.session.commit()
        return row.id


def test_a_claim_reads_the_row_tier_callback_and_storage_in_one_statement(app, make_user):
    from app.extensions import db
    from app.models import Artifact, Judge0Submission, utcnow
    from app.stores import sql_ports
    from tasks.ports import Delivery

    owner = make_user()
    plain, called_back = _queued(app, owner["id"]), _queued(app, owner["id"])
    with app.app_context():
        db.session.add(Judge0Submission(execution_id=called_back, language_id=71, callback_url="http://127.0.0.1:9/"))
        db.session.add(Artifact(id=f"a{plain[:20]}", execution_id=plain, user_id=owner["id"], name="x.txt",
                                size=1000, mime="text/plain", sha256="0" * 64, created_at=utcnow(),
                                expires_at=utcnow()))
        db.session.commit()
        store = sql_ports(app).executions
        with statements(app) as seen:
            claim = store.claim(plain, "w", Delivery(task_id="t1"))
        other = store.claim(called_back, "w", Delivery(task_id="t2"))
    reads = [s for s in seen if s.upper().startswith("SELECT")]
    assert len(reads) == 1, seen  # the row, its owner's tier, the callback and the storage: one read
    assert [s.split()[0].upper() for s in seen if not s.upper().startswith("SELECT")] == ["UPDATE"], seen
    assert claim is not None and not claim.callback and other is not None and other.callback
    assert claim.artifacts is not None and claim.artifacts.room_bytes == claim.artifacts.quota_bytes - 1000
    assert claim.queue_seconds is not None and claim.queue_seconds >= 0


def test_a_new_run_is_sent_without_reading_its_row_back(app, make_user, monkeypatch):
    from app.extensions import db
    from app.models import User
    from app.services import runs
    from app.services.run_request import RunRequest

    sent = []
    monkeypatch.setattr(runs, "bound", lambda task: type("T", (), {
        "apply_async": staticmethod(lambda args, kwargs: sent.append((args, kwargs)))}))
    owner = make_user()
    with app.test_request_context():
        user = db.session.get_one(User, owner["id"])
        with statements(app) as seen:
            row = runs.submit(user, RunRequest(language="python", code="print(1)", wait=False))
            wait = runs.wait_seconds(row)
    assert sent == [([row.id], {"language": "python"})] and wait > 0
    inserted = next(i for i, s in enumerate(seen) if s.upper().startswith("INSERT INTO EXECUTIONS"))
    assert not [s for s in seen[inserted:] if "FROM executions" in s], seen


def test_every_waiter_wakes_from_the_one_signal_which_keeps_its_expiry(app, make_user):
    from app.extensions import db
    from app.models import Execution
    from app.services import runs
    from app.services.workers import redis
    from tasks import keys

    execution_id = _queued(app, make_user()["id"])
    with app.app_context():
        key = keys.done_key(execution_id)
        client = redis()
        client.lpush(key, "success")  # as the worker signals it
        client.expire(key, 30)
        row = db.session.get_one(Execution, execution_id)
        started = time.monotonic()
        for _ in range(3):  # a replayed request waits on the same execution
            runs.wait_for(row, 10)
        assert time.monotonic() - started < 3
        assert client.llen(key) == 1 and 0 < client.ttl(key) <= 30
