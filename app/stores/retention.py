"""The SQL implementation of the worker's RetentionStore (tasks/ports.py): which executions and batches
are old and final, and deleting them in short transactions.

What goes with them is the database's doing: artifact rows, Judge0 submissions and Idempotency-Keys
cascade; usage records keep their billing line with the link set to NULL (migration 0012). Artifact
blobs are left to the artifact expiry, which removes blobs no row names."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sandbox import FINAL_STATUSES
from tasks.ports import Pruned

from ..dml import rows_changed
from ..extensions import db
from ..models import CASE_PENDING, Batch, BatchCase, BatchSubmission, Execution, aware

FINAL_BATCH = ("done", "cancelled")  # and no case left to run: a cancelled batch may still be ending


def _old_executions(cutoff: datetime, live: bool) -> sa.ColumnElement[bool]:
    return sa.and_(Execution.status.in_(list(FINAL_STATUSES)), Execution.created_at < cutoff,
                   Execution.live.is_not(sa.null()) if live else Execution.live.is_(sa.null()))


def _old_batches(cutoff: datetime) -> sa.ColumnElement[bool]:
    pending = sa.select(BatchCase.id).where(BatchCase.batch_id == Batch.id, BatchCase.status.in_(CASE_PENDING))
    return sa.and_(Batch.status.in_(FINAL_BATCH), Batch.created_at < cutoff, ~pending.exists())


def _dated(kind: str, row: Any) -> Pruned:
    return Pruned(kind, row[0], aware(row[1]), aware(row[2]))


class _Tally:
    """What one kind has lost so far, chunk after chunk."""

    def __init__(self, kind: str) -> None:
        self.kind, self.rows = kind, 0
        self.oldest: datetime | None = None
        self.newest: datetime | None = None

    def add(self, rows: int, dates: Sequence[datetime] = ()) -> None:
        self.rows += rows
        for moment in map(aware, dates):
            self.oldest = moment if self.oldest is None else min(self.oldest, moment)
            self.newest = moment if self.newest is None else max(self.newest, moment)

    def result(self) -> Pruned:
        return Pruned(self.kind, self.rows, self.oldest, self.newest)


def _deleted(statement: sa.Delete) -> int:
    """Run one delete in its own transaction: no lock outlives a chunk."""
    count = rows_changed(statement.execution_options(synchronize_session=False))
    db.session.commit()
    return count


def _children(model: type[BatchCase] | type[BatchSubmission], batch_ids: list[str], chunk_rows: int) -> int:
    """Delete the batches' cases or submissions, `chunk_rows` per transaction; how many went."""
    some = sa.select(model.id).where(model.batch_id.in_(batch_ids)).limit(chunk_rows)
    total = 0
    while (count := _deleted(sa.delete(model).where(model.id.in_(some)))) > 0:
        total += count
    return total


class SqlRetentionStore:
    def survey(self, cutoff: datetime) -> tuple[Pruned, ...]:
        dated = (sa.func.count(), sa.func.min(Execution.created_at), sa.func.max(Execution.created_at))
        kinds = [_dated(kind, db.session.execute(sa.select(*dated).where(_old_executions(cutoff, live))).one())
                 for kind, live in (("executions", False), ("live_runs", True))]
        batches = sa.select(Batch.id).where(_old_batches(cutoff))
        kinds.append(_dated("batches", db.session.execute(sa.select(
            sa.func.count(), sa.func.min(Batch.created_at), sa.func.max(Batch.created_at)).where(
            _old_batches(cutoff))).one()))
        for kind, model in (("batch_submissions", BatchSubmission), ("batch_cases", BatchCase)):
            rows = db.session.scalar(sa.select(sa.func.count()).select_from(model).where(model.batch_id.in_(batches)))
            kinds.append(Pruned(kind, rows or 0))
        db.session.rollback()  # read only: hold nothing
        return tuple(kinds)

    def prune(self, cutoff: datetime, chunk_rows: int) -> tuple[Pruned, ...]:
        kinds = [self._executions(cutoff, live, chunk_rows, _Tally(kind))
                 for kind, live in (("executions", False), ("live_runs", True))]
        return (*kinds, *self._batches(cutoff, chunk_rows))

    def _executions(self, cutoff: datetime, live: bool, chunk_rows: int, tally: _Tally) -> Pruned:
        while True:
            rows = db.session.execute(sa.select(Execution.id, Execution.created_at).where(
                _old_executions(cutoff, live)).order_by(Execution.created_at).limit(chunk_rows)).all()
            if not rows:
                return tally.result()
            # the status is checked again: nothing final turns active, but the delete says so itself
            tally.add(_deleted(sa.delete(Execution).where(Execution.id.in_([r.id for r in rows]),
                                                          _old_executions(cutoff, live))),
                      [r.created_at for r in rows])

    def _batches(self, cutoff: datetime, chunk_rows: int) -> tuple[Pruned, ...]:
        batches, submissions, cases = _Tally("batches"), _Tally("batch_submissions"), _Tally("batch_cases")
        while True:
            rows = db.session.execute(sa.select(Batch.id, Batch.created_at).where(_old_batches(cutoff))
                                      .order_by(Batch.created_at).limit(chunk_rows)).all()
            db.session.rollback()
            if not rows:
                return batches.result(), submissions.result(), cases.result()
            ids = [r.id for r in rows]
            # children first, a chunk at a time: one batch may hold many thousands of cases
            cases.add(_children(BatchCase, ids, chunk_rows))
            submissions.add(_children(BatchSubmission, ids, chunk_rows))
            batches.add(_deleted(sa.delete(Batch).where(Batch.id.in_(ids))), [r.created_at for r in rows])
