"""The SQL implementation of the worker's ExecutionStore (tasks/ports.py): claim, finish and fail
one execution, its usage record written with its result, exactly once."""
from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from sandbox import ACTIVE_STATUSES, ExecutionStatus, RunResult, registry
from tasks.ports import NO_ARTIFACTS, ClaimedRun, Delivery, KeptArtifacts, LiveOptions, Outcome

from ..dml import rows_changed
from ..extensions import db
from ..models import Execution, Project, UsageRecord, User, aware, utcnow
from ..services import artifacts
from ..services.pricing import cost_of

log = logging.getLogger(__name__)

# whether an execution gets an HTTP callback, as a SQL condition on its id (the claim's query reads it)
CallbackWanted = Callable[[sa.ColumnExpressionArgument[str]], sa.ColumnElement[bool]]


def compile_stats(language: str, result: RunResult) -> dict[str, Any]:
    """The compile stage's use: a failed compile's is the result's own (nothing ran after it)."""
    if not registry().get(language).compile:
        return {}
    if result.status == ExecutionStatus.COMPILE_ERROR:
        return dict(compile_cpu_time=result.cpu_time, compile_wall_time=result.wall_time,
                    compile_memory_kb=result.memory_kb)
    return dict(compile_cpu_time=result.compile_cpu_time, compile_wall_time=result.compile_wall_time,
                compile_memory_kb=result.compile_memory_kb)


def _claimable(row: Execution, delivery: Delivery) -> bool:
    if row.status == ExecutionStatus.RUNNING and not delivery.may_take_over(row.attempts, row.claimed_by):
        log.info("execution %s: attempt %d holds it; a duplicate message does nothing", row.id, row.attempts)
        return False
    return row.status in ACTIVE_STATUSES


class SqlExecutionStore:
    def __init__(self, callback_wanted: CallbackWanted = lambda execution_id: sa.false()):
        # whether a finished execution gets an HTTP callback: asked of the API that accepted it, as
        # a SQL condition on the execution id, so the claim reads it with the row (one query)
        self.callback_wanted = callback_wanted

    def claim(self, execution_id: str, worker: str, delivery: Delivery) -> ClaimedRun | None:
        try:
            # one locking read: the row, the owner's tier, whether it wants a callback and what
            # the owner stores (its artifacts' room)
            found = db.session.execute(
                sa.select(Execution, User.tier, self.callback_wanted(Execution.id).label("callback"),
                          artifacts.stored_bytes(Execution.user_id).label("stored"))
                .join(User).where(Execution.id == execution_id).with_for_update(of=Execution)
            ).one_or_none()
            if found is None or not _claimable(found[0], delivery):
                db.session.rollback()
                return None
            row, tier, callback, stored = found
            now = utcnow()
            waited = round((now - aware(row.created_at)).total_seconds(), 4)
            # compare-and-set on what was read: of two racing claims one wins (SQLite has no row locks)
            won = rows_changed(sa.update(Execution).where(
                Execution.id == row.id, Execution.status == row.status, Execution.attempts == row.attempts,
            ).values(status=ExecutionStatus.RUNNING, attempts=row.attempts + 1, worker=worker[:255],
                     claimed_by=delivery.task_id, started_at=now,
                     queue_seconds=waited,
                     ).execution_options(synchronize_session=False)) == 1
            if not won:
                db.session.rollback()
                return None
            claim = ClaimedRun(
                execution_id=row.id, attempt=row.attempts + 1, user_id=row.user_id, tier=tier,
                language=row.language, code=row.code,
                stdin=bytes(row.stdin or b""), args=tuple(row.args or ()),
                files=tuple((f["name"], f["content"].encode()) for f in row.files or ()),
                timeout=row.timeout, memory_mb=row.memory_mb, entry_name=row.entry_name, project_id=row.project_id,
                runs=row.runs or 1, callback=bool(callback),
                live=LiveOptions(**row.live) if row.live is not None else None,
                # a live run's files are not kept: its caller saw it run, and has no result to show them in
                artifacts=artifacts.policy(tier, int(stored)) if row.live is None else None,
                queue_seconds=waited,
            )
            db.session.commit()
            return claim
        except Exception:
            db.session.rollback()
            raise

    def finish(self, claim: ClaimedRun, outcome: Outcome) -> bool:
        result = outcome.result
        values = dict(
            status=result.status, stdout=result.stdout, stderr=result.stderr,
            compile_output=result.compile_output, returncode=result.returncode, signal=result.signal,
            execution_time=result.wall_time, cpu_time=result.cpu_time, memory_kb=result.memory_kb,
            stdout_truncated=result.truncated.get("stdout", False),
            stderr_truncated=result.truncated.get("stderr", False),
            message=result.message, finished_at=utcnow(), artifacts_note=outcome.artifacts.note,
            **compile_stats(claim.language, result),
        )
        fenced = sa.update(Execution).where(
            Execution.id == claim.execution_id, Execution.status == ExecutionStatus.RUNNING,
            Execution.attempts == claim.attempt,
        ).values(**values)
        # billed: the one compile and every run that happened (the row's cpu_time is their mean)
        usage = dict(execution_id=claim.execution_id, user_id=claim.user_id, language=claim.language,
                     tier=claim.tier, status=result.status, cpu_seconds=outcome.cpu_seconds,
                     wall_seconds=outcome.wall_seconds,
                     cost=cost_of(claim.tier, outcome.cpu_seconds, result.status, outcome.runs))
        return self._finalize(fenced, usage, claim.project_id, outcome.artifacts)

    def fail(self, execution_id: str, message: str) -> None:
        found = db.session.execute(
            sa.select(Execution.user_id, Execution.language, Execution.project_id, User.tier).join(User)
            .where(Execution.id == execution_id)
        ).one_or_none()
        if found is None:
            return
        stmt = sa.update(Execution).where(
            Execution.id == execution_id, Execution.status.in_(ACTIVE_STATUSES)
        ).values(status=ExecutionStatus.INTERNAL_ERROR, message=message[:2000], finished_at=utcnow())
        self._finalize(stmt, dict(execution_id=execution_id, user_id=found.user_id, language=found.language,
                                  tier=found.tier, status=ExecutionStatus.INTERNAL_ERROR, cpu_seconds=0.0,
                                  wall_seconds=0.0, cost=Decimal(0)), found.project_id)

    def _finalize(self, stmt: sa.Update, usage: dict[str, Any], project_id: str | None,
                  kept: KeptArtifacts = NO_ARTIFACTS) -> bool:
        """Result, usage record, artifacts and the project's last run commit together, or not at all."""
        try:
            if rows_changed(stmt) != 1:
                db.session.rollback()
                return False
            now = utcnow()
            db.session.execute(sa.insert(UsageRecord).values(created_at=now, **usage))
            artifacts.insert_rows(kept, usage["user_id"], now, execution_id=usage["execution_id"])
            if project_id:
                db.session.execute(sa.update(Project).where(Project.id == project_id).values(
                    last_run_at=now, last_run_status=usage["status"], last_run_id=usage["execution_id"]))
            db.session.commit()
            return True
        except IntegrityError:
            db.session.rollback()
            return False
        except Exception:
            db.session.rollback()
            raise
