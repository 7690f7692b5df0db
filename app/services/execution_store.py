"""SQLAlchemy implementation of the task layer's ExecutionStore."""
from __future__ import annotations

import logging
from datetime import timezone
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from tasks.store import ClaimedRun, Delivery, Outcome

from ..extensions import db
from ..models import ACTIVE_STATUSES, Execution, Judge0Submission, Project, UsageRecord, User, utcnow

log = logging.getLogger(__name__)


def cost_of(tier: str, cpu_seconds: float, status: str, runs: int = 1) -> Decimal:
    """Each run that happened is an execution (a compile that failed counts as one)."""
    if status == "internal_error":
        return Decimal(0)
    prices = current_app.config["TIERS"].get(tier) or current_app.config["TIERS"]["free"]
    cost = prices["per_execution"] * max(1, runs) + prices["per_cpu_second"] * Decimal(str(round(cpu_seconds, 6)))
    return cost.quantize(Decimal("0.000001"))


def _aware(value):
    return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value


def _claimable(row: Execution, delivery: Delivery) -> bool:
    if row.status == "running" and not delivery.may_take_over(row.attempts, row.claimed_by):
        log.info("execution %s: attempt %d holds it; a duplicate message does nothing", row.id, row.attempts)
        return False
    return row.status in ACTIVE_STATUSES


class SqlExecutionStore:
    def claim(self, execution_id: str, worker: str, delivery: Delivery) -> ClaimedRun | None:
        try:
            # one locking read: the row, the owner's tier and a Judge0 callback, if one was asked for
            found = db.session.execute(
                sa.select(Execution, User.tier, Judge0Submission.callback_url).join(User)
                .outerjoin(Judge0Submission, Judge0Submission.execution_id == Execution.id)
                .where(Execution.id == execution_id).with_for_update(of=Execution)
            ).one_or_none()
            if found is None or not _claimable(found[0], delivery):
                db.session.rollback()
                return None
            row, tier, callback_url = found
            now = utcnow()
            # compare-and-set on what was read: of two racing claims one wins (SQLite has no row locks)
            won = db.session.execute(sa.update(Execution).where(
                Execution.id == row.id, Execution.status == row.status, Execution.attempts == row.attempts,
            ).values(status="running", attempts=row.attempts + 1, worker=worker[:255], claimed_by=delivery.task_id,
                     started_at=now, queue_seconds=round((now - _aware(row.created_at)).total_seconds(), 4),
                     ).execution_options(synchronize_session=False)).rowcount == 1
            if not won:
                db.session.rollback()
                return None
            claim = ClaimedRun(
                execution_id=row.id, attempt=row.attempts + 1, user_id=row.user_id, tier=tier,
                language=row.language, code=row.code,
                stdin=bytes(row.stdin or b""), args=tuple(row.args or ()),
                files=tuple((f["name"], f["content"].encode()) for f in row.files or ()),
                timeout=row.timeout, memory_mb=row.memory_mb, entry_name=row.entry_name, project_id=row.project_id,
                runs=row.runs or 1, callback=callback_url is not None,
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
            message=result.message, finished_at=utcnow(),
        )
        fenced = sa.update(Execution).where(
            Execution.id == claim.execution_id, Execution.status == "running",
            Execution.attempts == claim.attempt,
        ).values(**values)
        # billed: the one compile and every run that happened (the row's cpu_time is their mean)
        usage = dict(execution_id=claim.execution_id, user_id=claim.user_id, language=claim.language,
                     tier=claim.tier, status=result.status, cpu_seconds=outcome.cpu_seconds,
                     wall_seconds=outcome.wall_seconds,
                     cost=cost_of(claim.tier, outcome.cpu_seconds, result.status, outcome.runs))
        return self._finalize(fenced, usage, claim.project_id)

    def fail(self, execution_id: str, message: str) -> None:
        found = db.session.execute(
            sa.select(Execution.user_id, Execution.language, Execution.project_id, User.tier).join(User)
            .where(Execution.id == execution_id)
        ).one_or_none()
        if found is None:
            return
        stmt = sa.update(Execution).where(
            Execution.id == execution_id, Execution.status.in_(ACTIVE_STATUSES)
        ).values(status="internal_error", message=message[:2000], finished_at=utcnow())
        self._finalize(stmt, dict(execution_id=execution_id, user_id=found.user_id, language=found.language,
                                  tier=found.tier, status="internal_error", cpu_seconds=0.0, wall_seconds=0.0,
                                  cost=Decimal(0)), found.project_id)

    def _finalize(self, stmt, usage: dict, project_id: str | None) -> bool:
        """Result, usage record and the project's last run commit together, or not at all."""
        try:
            if db.session.execute(stmt).rowcount != 1:
                db.session.rollback()
                return False
            now = utcnow()
            db.session.execute(sa.insert(UsageRecord).values(created_at=now, **usage))
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
