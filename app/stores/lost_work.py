"""The SQL implementation of the worker's LostWork (tasks/ports.py): which executions and batch submissions
recovery should send again (see tasks/recovery.py for the rules)."""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Flask

from sandbox import ExecutionStatus, UnknownLanguage, registry
from tasks.ports import Lost, RecoveryPolicy
from tasks.routing import EXECUTE_TASK, GRADE_TASK

from ..extensions import db
from ..models import (
    BATCH_ACTIVE,
    BATCH_CREATING,
    CASE_PENDING,
    Batch,
    BatchCase,
    BatchSubmission,
    Execution,
    aware,
    utcnow,
)
from ..services import batch_rows
from ..services.quotas import CREATING_STALE_AFTER


def compile_seconds(language_id: str) -> float:
    try:
        lang = registry().get(language_id)
    except UnknownLanguage:
        return 0.0
    return lang.compile_limits.timeout if lang.compile else 0.0


def _seconds_since(now: datetime, *moments: datetime | None) -> float:
    return (now - max(aware(m) for m in moments if m is not None)).total_seconds()


def queued_runs(languages: list[str], now: datetime, policy: RecoveryPolicy) -> list[Lost]:
    rows = db.session.execute(sa.select(Execution.id, Execution.language, Execution.created_at).where(
        Execution.status == ExecutionStatus.QUEUED, Execution.language.in_(languages),
        Execution.created_at < now - timedelta(seconds=policy.queued_after),
    ).order_by(Execution.created_at).limit(policy.limit)).all()
    return [Lost(EXECUTE_TASK, r.id, r.language, None, _seconds_since(now, r.created_at)) for r in rows]


def abandoned_runs(languages: list[str], now: datetime, policy: RecoveryPolicy) -> list[Lost]:
    """Running past the time its attempt could possibly take: that attempt's worker is gone."""
    claimed = sa.func.coalesce(Execution.started_at, Execution.created_at)
    rows = db.session.execute(sa.select(
        Execution.id, Execution.language, Execution.attempts, Execution.timeout, Execution.runs,
        Execution.started_at, Execution.created_at,
    ).where(Execution.status == ExecutionStatus.RUNNING, Execution.language.in_(languages),
            claimed < now - timedelta(seconds=policy.running_grace)).limit(policy.limit)).all()
    lost = []
    for r in rows:
        age = _seconds_since(now, r.started_at or r.created_at)
        if age > (r.timeout + compile_seconds(r.language)) * (r.runs or 1) + policy.running_grace:
            lost.append(Lost(EXECUTE_TASK, r.id, r.language, r.attempts, age))
    return lost


def queued_submissions(languages: list[str], now: datetime, policy: RecoveryPolicy) -> list[Lost]:
    """Never claimed (in a cancelled batch too: the claim ends it if a cancel was cut short)."""
    rows = db.session.execute(sa.select(BatchSubmission.id, Batch.language, Batch.created_at).join(Batch).where(
        Batch.status.in_((*BATCH_ACTIVE, "cancelled")), Batch.language.in_(languages),
        BatchSubmission.status == "queued", Batch.created_at < now - timedelta(seconds=policy.queued_after),
    ).order_by(Batch.created_at, BatchSubmission.position).limit(policy.limit)).all()
    return [Lost(GRADE_TASK, r.id, r.language, None, _seconds_since(now, r.created_at)) for r in rows]


def _longest_test(batch_id: str) -> float:
    tests = db.session.execute(sa.select(Batch.tests).where(Batch.id == batch_id)).scalar() or []
    return max((float(t["timeout"]) for t in tests), default=0.0)


def abandoned_submissions(languages: list[str], now: datetime, policy: RecoveryPolicy) -> list[Lost]:
    """Cases left to run, and no progress for longer than compiling plus one test could take (in a
    cancelled batch too: a case its lost attempt left running is ended by the takeover)."""
    pending = sa.exists().where(BatchCase.submission_id == BatchSubmission.id, BatchCase.status.in_(CASE_PENDING))
    progress = sa.select(sa.func.max(BatchCase.finished_at)).where(
        BatchCase.submission_id == BatchSubmission.id).scalar_subquery()
    claimed = sa.func.coalesce(BatchSubmission.claimed_at, Batch.started_at, Batch.created_at)
    rows = db.session.execute(sa.select(
        BatchSubmission.id, BatchSubmission.attempts, Batch.id.label("batch_id"), Batch.language,
        claimed.label("claimed"), progress.label("progress"),
    ).join(Batch).where(Batch.status.in_((*BATCH_ACTIVE, "cancelled")), Batch.language.in_(languages),
                        BatchSubmission.status == "running", pending,
                        claimed < now - timedelta(seconds=policy.running_grace)).limit(policy.limit)).all()
    lost = []
    for r in rows:
        age = _seconds_since(now, r.claimed, r.progress)
        budget = compile_seconds(r.language) + policy.running_grace
        if age > budget and age > budget + _longest_test(r.batch_id):  # the tests are read only when needed
            lost.append(Lost(GRADE_TASK, r.id, r.language, r.attempts, age))
    return lost


def remove_stale_creating(now: datetime, policy: RecoveryPolicy) -> None:
    """Batches whose request died while writing them: they reserve nothing any more, and never run."""
    stale = db.session.execute(sa.select(Batch.id).where(
        Batch.status == BATCH_CREATING, Batch.created_at < now - CREATING_STALE_AFTER,
    ).limit(policy.limit)).scalars().all()
    db.session.rollback()
    for batch_id in stale:
        batch_rows.delete(batch_id)


class SqlLostWork:
    """Runs in a worker's main process, outside any task: it brings its own application context."""

    def __init__(self, app: Flask):
        self.app = app

    def find(self, languages, batch_languages, policy: RecoveryPolicy) -> list[Lost]:
        languages, batch_languages = list(languages), list(batch_languages)
        with self.app.app_context():
            now = utcnow()
            try:
                remove_stale_creating(now, policy)
                return [*queued_runs(languages, now, policy), *abandoned_runs(languages, now, policy),
                        *queued_submissions(batch_languages, now, policy),
                        *abandoned_submissions(batch_languages, now, policy)]
            finally:
                db.session.rollback()
