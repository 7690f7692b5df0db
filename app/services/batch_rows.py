"""A batch's rows, written in short transactions. A batch of any size then holds the database's
write lock (on SQLite: the whole file's) only briefly at a time, so another user's write never
waits long behind it:

- a submission's cases (one per test) are made when a worker first claims it (batch_store.py), not
  when the batch is accepted: accepting writes the batch and its submissions only, a group at a
  time, and users never see it half-written (it is `creating`, never graded, until all are in);
- cancelling ends the submissions no worker has claimed (all their tests given back to the quota
  at once: they have no case rows) and the cases still queued, a group of submissions at a time.
"""
from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa

from ..dml import rows_changed
from ..extensions import db
from ..models import (
    BATCH_ACTIVE,
    CASE_PENDING,
    Batch,
    BatchCase,
    BatchSubmission,
    utcnow,
)

# plain tables, not the ORM entities: many rows, none of them loaded into the session
BATCHES, SUBMISSIONS, CASES = Batch.__table__, BatchSubmission.__table__, BatchCase.__table__

# each transaction below holds the write lock for a few milliseconds on SQLite
SUBMISSIONS_PER_TRANSACTION = 200
SUBMISSION_BYTES_PER_TRANSACTION = 256 << 10

_INSERT_SUBMISSIONS = SUBMISSIONS.insert().returning(SUBMISSIONS.c.id, sort_by_parameter_order=True)
_INSERT_CASES = CASES.insert()


def in_transaction(work):
    """work() and commit, or roll back and raise."""
    try:
        outcome = work()
        db.session.commit()
        return outcome
    except Exception:
        db.session.rollback()
        raise


def _by_size(rows: list[dict]) -> Iterator[list[dict]]:
    """Submissions in groups small in count and in bytes (one may hold up to MAX_CODE_BYTES)."""
    group, size = [], 0
    for row in rows:
        group.append(row)
        size += len(row["code"]) + sum(len(f["content"]) for f in row["files"])
        if len(group) >= SUBMISSIONS_PER_TRANSACTION or size >= SUBMISSION_BYTES_PER_TRANSACTION:
            yield group
            group, size = [], 0
    if group:
        yield group


def _groups(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), SUBMISSIONS_PER_TRANSACTION):
        yield ids[start:start + SUBMISSIONS_PER_TRANSACTION]


def insert_submissions(batch_id: str, submissions: list[dict]) -> list[int]:
    """The submissions, in order (their cases are made when they are first claimed); their ids."""
    ids: list[int] = []
    for group in _by_size(submissions):
        ids += in_transaction(lambda group=group: db.session.execute(
            _INSERT_SUBMISSIONS, [dict(row, batch_id=batch_id) for row in group]).scalars().all())
    return ids


def make_cases(batch_id: str, submission_id: int, tests: int, status: str = "queued", message: str | None = None,
               finished_at=None) -> None:
    """A submission's cases, one per test: queued (in its claim's transaction), or already ended."""
    db.session.execute(_INSERT_CASES, [
        {"batch_id": batch_id, "submission_id": submission_id, "test_index": i, "status": status, "points": 0.0,
         "message": message, "finished_at": finished_at} for i in range(tests)])


def _submission_ids(batch_id: str) -> list[int]:
    ids = db.session.execute(sa.select(SUBMISSIONS.c.id).where(SUBMISSIONS.c.batch_id == batch_id)
                             .order_by(SUBMISSIONS.c.id)).scalars().all()
    db.session.rollback()  # a read: end it before the writes
    return list(ids)


def cancel_unrun(batch_id: str, tests: int, message: str | None) -> None:
    """What of the batch has not started ends `cancelled` and is given back to the quota: its
    submissions no worker claimed (every test of each) and its cases still queued."""
    for group in _groups(_submission_ids(batch_id)):
        in_transaction(lambda group=group: _cancel_group(batch_id, group, tests, message))


def _cancel_group(batch_id: str, submission_ids: list[int], tests: int, message: str | None) -> None:
    here = SUBMISSIONS.c.id.in_(submission_ids)
    queued_here = sa.and_(here, SUBMISSIONS.c.status == "queued")
    unclaimed = rows_changed(SUBMISSIONS.update().where(  # no cases made: each of its tests ends here
        queued_here, ~sa.exists().where(CASES.c.submission_id == SUBMISSIONS.c.id)).values(status="cancelled"))
    db.session.execute(SUBMISSIONS.update().where(queued_here).values(status="cancelled"))  # made by an older release
    queued = rows_changed(CASES.update().where(
        CASES.c.submission_id.in_(submission_ids), CASES.c.status == "queued",
    ).values(status="cancelled", message=message, finished_at=utcnow()))
    count_cancelled(batch_id, unclaimed * tests + queued)
    # a worker refused its next case before this cancel reached its queued ones: nothing is left to
    # run, so nothing else would ever end it
    db.session.execute(SUBMISSIONS.update().where(here, SUBMISSIONS.c.status == "running", ~sa.exists().where(
        CASES.c.submission_id == SUBMISSIONS.c.id, CASES.c.status.in_(CASE_PENDING))).values(status="cancelled"))


_FINISHING = sa.and_(Batch.done + sa.bindparam("v_cases") >= Batch.total, Batch.status.in_(BATCH_ACTIVE))
# built once: a batch runs it thousands of times, and building a statement costs more CPU than
# SQLite spends executing it
_COUNT_DONE = sa.update(Batch).execution_options(synchronize_session=False).where(
    Batch.id == sa.bindparam("batch_id")).values(
    done=Batch.done + sa.bindparam("v_cases"), status=sa.case((_FINISHING, "done"), else_=Batch.status),
    finished_at=sa.case((_FINISHING, sa.bindparam("v_now")), else_=Batch.finished_at))


def count_done(batch_id: str, cases: int, now=None) -> None:
    """The completion counter: the statement that brings done to total also finishes the batch."""
    if cases:
        db.session.execute(_COUNT_DONE, {"batch_id": batch_id, "v_cases": cases, "v_now": now or utcnow()})


def count_cancelled(batch_id: str, cases: int) -> None:
    """Cases that will never run: final (done) and given back to the quota (cancelled)."""
    if cases:
        db.session.execute(BATCHES.update().where(BATCHES.c.id == batch_id).values(
            cancelled=BATCHES.c.cancelled + cases, done=BATCHES.c.done + cases))


def delete(batch_id: str) -> None:
    """Remove a batch whose creation failed (it has no cases yet), a group of submissions at a time."""
    for group in _groups(_submission_ids(batch_id)):
        in_transaction(lambda group=group: db.session.execute(SUBMISSIONS.delete().where(SUBMISSIONS.c.id.in_(group))))
    in_transaction(lambda: db.session.execute(BATCHES.delete().where(BATCHES.c.id == batch_id)))
