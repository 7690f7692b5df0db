"""SQLAlchemy implementation of the task layer's ExecutionStore."""
from __future__ import annotations

from datetime import timezone
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from sandbox import RunResult
from tasks.store import ClaimedRun

from ..extensions import db
from ..models import ACTIVE_STATUSES, Execution, UsageRecord, User, utcnow


def cost_of(tier: str, cpu_seconds: float, status: str) -> Decimal:
    if status == "internal_error":
        return Decimal(0)
    prices = current_app.config["TIERS"].get(tier) or current_app.config["TIERS"]["free"]
    cost = prices["per_execution"] + prices["per_cpu_second"] * Decimal(str(round(cpu_seconds, 6)))
    return cost.quantize(Decimal("0.000001"))


def _aware(value):
    return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value


class SqlExecutionStore:
    def claim(self, execution_id: str, worker: str) -> ClaimedRun | None:
        try:
            row = db.session.execute(
                sa.select(Execution).where(Execution.id == execution_id).with_for_update()
            ).scalar_one_or_none()
            if row is None or row.status not in ACTIVE_STATUSES:
                return None
            now = utcnow()
            row.status, row.worker, row.attempts = "running", worker[:255], row.attempts + 1
            row.started_at = now
            row.queue_seconds = round((now - _aware(row.created_at)).total_seconds(), 4)
            claim = ClaimedRun(
                execution_id=row.id, attempt=row.attempts, language=row.language, code=row.code,
                stdin=bytes(row.stdin or b""), args=tuple(row.args or ()),
                files=tuple((f["name"], f["content"].encode()) for f in row.files or ()),
                timeout=row.timeout, memory_mb=row.memory_mb,
            )
            db.session.commit()
            return claim
        except Exception:
            db.session.rollback()
            raise

    def finish(self, claim: ClaimedRun, result: RunResult) -> bool:
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
        return self._finalize(claim.execution_id, fenced, result.status, result.cpu_time, result.wall_time)

    def fail(self, execution_id: str, message: str) -> None:
        stmt = sa.update(Execution).where(
            Execution.id == execution_id, Execution.status.in_(ACTIVE_STATUSES)
        ).values(status="internal_error", message=message[:2000], finished_at=utcnow())
        self._finalize(execution_id, stmt, "internal_error", 0.0, 0.0)

    def _finalize(self, execution_id, stmt, status, cpu, wall) -> bool:
        """Result and usage record commit together, or not at all."""
        try:
            if db.session.execute(stmt).rowcount != 1:
                db.session.rollback()
                return False
            row = db.session.get(Execution, execution_id)
            tier = db.session.get(User, row.user_id).tier
            db.session.add(UsageRecord(
                execution_id=execution_id, user_id=row.user_id, language=row.language, tier=tier,
                status=status, cpu_seconds=cpu, wall_seconds=wall, cost=cost_of(tier, cpu, status),
            ))
            db.session.commit()
            return True
        except IntegrityError:
            db.session.rollback()
            return False
        except Exception:
            db.session.rollback()
            raise
