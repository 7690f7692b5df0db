"""The SQL implementation of the worker's BatchStore (tasks/ports.py).

A submission's cases (one per test) are made by the claim that first wins it. A case is `running`
from the moment its jail may start (refused once its batch is cancelled) and ends in one
transaction fenced on it still running: its result, its usage record (UNIQUE per case) and the
batch's completion counter move together, so a redelivered or duplicated task can neither record
nor bill a case twice, and a cancel never refunds a case that ran.
"""
from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from sandbox import RunResult
from tasks.grading import Comparison
from tasks.ports import NO_ARTIFACTS, BatchTest, ClaimedSubmission, Delivery, KeptArtifacts

from ..dml import rows_changed
from ..extensions import db
from ..models import (
    BATCH_CREATING,
    CASE_PENDING,
    Batch,
    BatchCase,
    BatchSubmission,
    UsageRecord,
    User,
    utcnow,
)
from ..services import artifacts
from ..services import batch_ending as ending
from ..services.batch_rows import count_done, make_cases
from ..services.batch_rows import in_transaction as _transaction
from ..services.pricing import cost_of

STDOUT_KEPT = 1024
STDERR_KEPT = 1024


def _tests(batch: Batch) -> tuple[BatchTest, ...]:
    return tuple(BatchTest(index=i, name=t["name"], stdin=t["stdin"].encode(), expected_output=t["expected_output"],
                           points=float(t["points"]), args=tuple(t["args"]), timeout=float(t["timeout"]),
                           memory_mb=int(t["memory_mb"])) for i, t in enumerate(batch.tests))


def _update(model):
    """A plain UPDATE: no ORM session synchronisation (these rows are not loaded), much cheaper."""
    return sa.update(model).execution_options(synchronize_session=False)


# a case's statements, built once: a batch runs them thousands of times and building and
# caching a statement costs more CPU than SQLite spends executing it
# a case starts only under the attempt holding its submission (a superseded one stops at its next
# case), and only that attempt records it
_START_CASE = _update(BatchCase).where(
    BatchCase.id == sa.bindparam("case_id"), BatchCase.status.in_(CASE_PENDING),
    sa.select(Batch.status).where(Batch.id == sa.bindparam("v_batch_id")).scalar_subquery() != "cancelled",
    sa.select(BatchSubmission.attempts).where(BatchSubmission.id == sa.bindparam("v_submission_id"))
    .scalar_subquery() == sa.bindparam("v_attempt"),
).values(status="running", attempt=sa.bindparam("v_attempt"))
_FINISH_CASE = _update(BatchCase).where(BatchCase.id == sa.bindparam("case_id"), BatchCase.status == "running",
                                        BatchCase.attempt == sa.bindparam("v_attempt")).values(
    status=sa.bindparam("v_status"), points=sa.bindparam("v_points"), returncode=sa.bindparam("v_returncode"),
    cpu_time=sa.bindparam("v_cpu"), wall_time=sa.bindparam("v_wall"), memory_kb=sa.bindparam("v_memory"),
    stdout=sa.bindparam("v_stdout"), stderr=sa.bindparam("v_stderr"), diff=sa.bindparam("v_diff"),
    message=sa.bindparam("v_message"), artifacts_note=sa.bindparam("v_artifacts_note"),
    finished_at=sa.bindparam("v_now"))
_USAGE_INSERT = UsageRecord.__table__.insert()
_ADD_SCORE = _update(BatchSubmission).where(BatchSubmission.id == sa.bindparam("submission_id")).values(
    score=BatchSubmission.score + sa.bindparam("v_points"))

def _pending(submission_id: int) -> dict[int, int]:
    """test index -> case id of the cases still to run: queued, or left running by a lost attempt."""
    return dict(db.session.execute(sa.select(BatchCase.test_index, BatchCase.id).where(
        BatchCase.submission_id == submission_id, BatchCase.status.in_(CASE_PENDING))).all())


def _has_cases(submission_id: int) -> bool:
    return db.session.execute(sa.select(BatchCase.id).where(BatchCase.submission_id == submission_id)
                              .limit(1)).first() is not None


def _ended_by_cancel(batch: Batch, tier: str, submission_id: int, attempt: int) -> None:
    ending.end_cancelled(ending.BatchOf(batch.id, True, len(batch.tests), batch.user_id, batch.language, tier),
                         submission_id, attempt)


def _claimed(sub: BatchSubmission, delivery: Delivery, worker: str) -> bool:
    """Count the attempt unless another attempt holds the submission and this delivery may not
    take it over; compare-and-set, so of two racing claims one wins (SQLite has no row locks)."""
    if sub.status != "queued" and not delivery.may_take_over(sub.attempts, sub.claimed_by):
        return False
    return rows_changed(_update(BatchSubmission).where(
        BatchSubmission.id == sub.id, BatchSubmission.status == sub.status,
        BatchSubmission.attempts == sub.attempts,
    ).values(attempts=sub.attempts + 1, status="running", worker=worker[:255], claimed_at=utcnow(),
             claimed_by=delivery.task_id)) == 1


class SqlBatchStore:
    def claim_submission(self, submission_id: int, worker: str, delivery: Delivery) -> ClaimedSubmission | None:
        def claim():
            found = db.session.execute(
                sa.select(BatchSubmission, Batch, User.tier).join(Batch, BatchSubmission.batch_id == Batch.id)
                .join(User, Batch.user_id == User.id).where(BatchSubmission.id == submission_id)
                .with_for_update(of=BatchSubmission)
            ).one_or_none()
            if found is None:
                return None
            sub, batch, tier = found
            if batch.status == BATCH_CREATING:
                return None
            unmade = sub.status == "queued" and not _has_cases(submission_id)  # never claimed
            if unmade and batch.status == "cancelled":
                _ended_by_cancel(batch, tier, submission_id, sub.attempts)
                return None
            pending = {} if unmade else _pending(submission_id)
            if not unmade and not pending:
                ending.close_if_finished(submission_id)
                return None
            if not _claimed(sub, delivery, worker):
                return None
            if unmade:  # made by the claim that won: one case per test
                make_cases(batch.id, submission_id, len(batch.tests))
                pending = _pending(submission_id)
            if batch.status == "cancelled":  # what a lost attempt left running ran: billed, not given back
                _ended_by_cancel(batch, tier, submission_id, sub.attempts + 1)
                return None
            db.session.execute(_update(Batch).where(Batch.id == batch.id, Batch.status == "queued")
                               .values(status="running", started_at=utcnow()))
            return ClaimedSubmission(
                submission_id=sub.id, batch_id=batch.id, attempt=sub.attempts + 1, user_id=batch.user_id, tier=tier,
                language=batch.language, code=sub.code, entry_name=sub.entry_name,
                files=tuple((f["name"], f["content"].encode()) for f in sub.files or ()),
                comparison=Comparison(batch.compare, batch.abs_tol, batch.rel_tol),
                tests=_tests(batch), pending=pending,
                artifacts=artifacts.policy(tier, artifacts.bytes_stored(batch.user_id)),
            )
        return _transaction(claim)

    def record_compile(self, claim: ClaimedSubmission, status: str, output: str, cpu_seconds: float,
                       wall_seconds: float) -> None:
        def record():
            db.session.execute(_update(BatchSubmission).where(BatchSubmission.id == claim.submission_id).values(
                compile_status=status, compile_output=output[:65536], compile_time=round(cpu_seconds, 4),
                compiles=BatchSubmission.compiles + 1))
            billed = db.session.execute(sa.select(UsageRecord.id).where(
                UsageRecord.batch_submission_id == claim.submission_id)).first()
            if billed is None:  # a recompile after a lost worker is not billed again
                cpu = round(cpu_seconds, 4)
                db.session.execute(UsageRecord.__table__.insert().values(
                    batch_submission_id=claim.submission_id, kind="compile", user_id=claim.user_id,
                    language=claim.language, tier=claim.tier, status=status, cpu_seconds=cpu,
                    wall_seconds=round(wall_seconds, 4), cost=self._compile_cost(claim.tier, cpu, status),
                    created_at=utcnow()))
        try:
            _transaction(record)
        except IntegrityError:  # a concurrent duplicate billed it first
            pass

    @staticmethod
    def _compile_cost(tier: str, cpu: float, status: str) -> Decimal:
        """Compiling is billed by CPU time only; the per-run price applies to test runs."""
        run_cost = cost_of(tier, cpu, status)
        return max(Decimal(0), run_cost - cost_of(tier, 0.0, status))

    def pending_cases(self, submission_id: int) -> dict[int, int]:
        pending = _pending(submission_id)
        db.session.rollback()  # end the read transaction: the next look must see new commits
        return pending

    def start_case(self, claim: ClaimedSubmission, case_id: int) -> bool:
        return _transaction(lambda: rows_changed(_START_CASE, {
            "case_id": case_id, "v_batch_id": claim.batch_id, "v_submission_id": claim.submission_id,
            "v_attempt": claim.attempt}) == 1)

    def finish_case(self, claim: ClaimedSubmission, case_id: int, test: BatchTest, result: RunResult,
                    verdict: str, diff: str | None, kept: KeptArtifacts = NO_ARTIFACTS) -> bool:
        points = test.points if verdict == "accepted" else 0.0
        cpu = round(result.cpu_time, 4)
        now = utcnow()

        def finish():
            recorded = rows_changed(_FINISH_CASE, {
                "case_id": case_id, "v_attempt": claim.attempt, "v_status": verdict, "v_points": points,
                "v_returncode": result.returncode, "v_cpu": cpu, "v_wall": result.wall_time,
                "v_memory": result.memory_kb, "v_stdout": result.stdout[:STDOUT_KEPT],
                "v_stderr": result.stderr[:STDERR_KEPT], "v_diff": diff, "v_message": result.message,
                "v_artifacts_note": kept.note, "v_now": now})
            if recorded != 1:
                return False
            db.session.execute(_USAGE_INSERT, {
                "batch_case_id": case_id, "kind": "run", "user_id": claim.user_id, "language": claim.language,
                "tier": claim.tier, "status": result.status, "cpu_seconds": cpu, "wall_seconds": result.wall_time,
                "cost": cost_of(claim.tier, cpu, result.status), "created_at": now})
            artifacts.insert_rows(kept, claim.user_id, now, batch_case_id=case_id)
            if points:
                db.session.execute(_ADD_SCORE, {"submission_id": claim.submission_id, "v_points": points})
            count_done(claim.batch_id, 1, now)
            return True
        try:
            return _transaction(finish)
        except IntegrityError:
            return False

    def fail_cases(self, submission_id: int, verdict: str, message: str | None, attempt: int | None) -> int:
        return _transaction(lambda: ending.fail(submission_id, verdict, message, attempt))

    def close_submission(self, submission_id: int) -> None:
        _transaction(lambda: ending.close_if_finished(submission_id))
