"""Ending a submission's cases without running them: on a failure (compile error, infrastructure,
a bug) or because its batch was cancelled. A failure ends what is left with its verdict, counted
done; a submission no worker ever claimed has no case rows yet, so its cases are made ended.

In a cancelled batch, a case that never started (`queued`) ends `cancelled` and is given back to
the quota; a case that started (`running`: its jail ran, perhaps under a worker since lost) ran, so
it ends `stopped`, counted done and billed once, for no CPU when none was measured.

An attempt ends only the running cases it or an earlier attempt started: a later attempt's case
is that attempt's to record.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from tasks.grading import Verdict

from ..dml import rows_changed
from ..extensions import db
from ..models import CASE_PENDING, Batch, UsageRecord, User, utcnow
from .batch_rows import CASES, SUBMISSIONS, count_cancelled, count_done, make_cases
from .pricing import cost_of

FAILED = (Verdict.COMPILE_ERROR, Verdict.INTERNAL_ERROR)  # the verdicts a failed submission keeps as its status
USAGE = UsageRecord.__table__
UNMEASURED = "stopped: the batch was cancelled"


@dataclass(frozen=True)
class BatchOf:
    """What ending a submission's cases needs of its batch."""
    batch_id: str
    cancelled: bool
    tests: int
    user_id: int
    language: str
    tier: str


def batch_of(submission_id: int) -> BatchOf | None:
    row = db.session.execute(sa.select(Batch.id, Batch.status, Batch.tests, Batch.user_id, Batch.language, User.tier)
                             .join(SUBMISSIONS, SUBMISSIONS.c.batch_id == Batch.id).join(User, Batch.user_id == User.id)
                             .where(SUBMISSIONS.c.id == submission_id)).one_or_none()
    if row is None:
        return None
    return BatchOf(row.id, row.status == "cancelled", len(row.tests), row.user_id, row.language, row.tier)


def _started_by(attempt: int | None) -> sa.ColumnElement[bool]:
    """Running cases this attempt may end: its own and earlier attempts' (unknown: none)."""
    if attempt is None:
        return sa.false()
    return sa.and_(CASES.c.status == "running", sa.or_(CASES.c.attempt.is_(None), CASES.c.attempt <= attempt))


def _unmade(submission_id: int, status: str) -> bool:
    """End a submission no worker claimed (it has no cases) with `status`; False if it has cases."""
    return rows_changed(SUBMISSIONS.update().where(
        SUBMISSIONS.c.id == submission_id, SUBMISSIONS.c.status == "queued",
        ~sa.exists().where(CASES.c.submission_id == submission_id)).values(status=status)) == 1


def fail(submission_id: int, verdict: str, message: str | None, attempt: int | None) -> int:
    """End the cases left to this attempt with `verdict` (not billed); how many ended."""
    batch = batch_of(submission_id)
    if batch is None:
        return 0
    if batch.cancelled:
        return end_cancelled(batch, submission_id, attempt, message)
    message, now = (message or "")[:2000] or None, utcnow()
    if _unmade(submission_id, verdict if verdict in FAILED else "done"):
        make_cases(batch.batch_id, submission_id, batch.tests, verdict, message, now)
        count_done(batch.batch_id, batch.tests, now)
        return batch.tests
    ended = rows_changed(CASES.update().where(
        CASES.c.submission_id == submission_id, sa.or_(CASES.c.status == "queued", _started_by(attempt)),
    ).values(status=verdict, message=message, finished_at=now))
    count_done(batch.batch_id, ended, now)
    close_if_finished(submission_id, verdict)
    return ended


def end_cancelled(batch: BatchOf, submission_id: int, attempt: int | None, message: str | None = None) -> int:
    """A cancelled batch's submission: what never started is given back, what started is billed."""
    if _unmade(submission_id, "cancelled"):
        count_cancelled(batch.batch_id, batch.tests)
        return batch.tests
    now, mine = utcnow(), CASES.c.submission_id == submission_id
    queued = rows_changed(CASES.update().where(mine, CASES.c.status == "queued").values(
        status="cancelled", message=message, finished_at=now))
    count_cancelled(batch.batch_id, queued)
    stopped = db.session.execute(CASES.update().where(mine, _started_by(attempt)).values(
        status="stopped", cpu_time=0.0, wall_time=0.0, message=UNMEASURED, finished_at=now,
    ).returning(CASES.c.id)).scalars().all()
    if stopped:
        cost = cost_of(batch.tier, 0.0, "stopped")
        db.session.execute(USAGE.insert(), [
            {"batch_case_id": case_id, "kind": "run", "user_id": batch.user_id, "language": batch.language,
             "tier": batch.tier, "status": "stopped", "cpu_seconds": 0.0, "wall_seconds": 0.0, "cost": cost,
             "created_at": now} for case_id in stopped])
        count_done(batch.batch_id, len(stopped), now)
    db.session.execute(SUBMISSIONS.update().where(SUBMISSIONS.c.id == submission_id, ~sa.exists().where(
        mine, CASES.c.status.in_(CASE_PENDING))).values(status="cancelled"))
    return queued + len(stopped)


def close_if_finished(submission_id: int, ended: str = "done") -> None:
    """Final once none of its cases is left to run; never one whose cases were not made yet."""
    mine = CASES.c.submission_id == submission_id
    db.session.execute(SUBMISSIONS.update().where(
        SUBMISSIONS.c.id == submission_id, SUBMISSIONS.c.status != "cancelled", sa.exists().where(mine),
        ~sa.exists().where(mine, CASES.c.status.in_(CASE_PENDING)),
    ).values(status=ended if ended in FAILED else "done"))
