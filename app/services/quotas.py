"""Execution quotas (per day, concurrent), checked and consumed atomically per user.

The first statement of the transaction is a write to the caller's user row: PostgreSQL then
holds the row lock and SQLite the database write lock until the execution row commits, so
parallel requests of one user are counted one after another and can never exceed a quota.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from ..extensions import db
from ..models import ACTIVE_STATUSES, Execution, User
from .tiers import refuse, tier_of


def day_start(now: datetime | None = None) -> datetime:
    now = now or datetime.now(timezone.utc)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def counts(user: User) -> tuple[int, int]:
    """(executions today, executions queued or running)."""
    today, active = db.session.execute(sa.select(
        sa.func.count().filter(Execution.created_at >= day_start()),
        sa.func.count().filter(Execution.status.in_(ACTIVE_STATUSES)),
    ).where(Execution.user_id == user.id)).one()
    return today, active


def lock_user(user: User) -> None:
    """Serialize this user's quota checks until the transaction ends (see the module doc)."""
    db.session.execute(sa.update(User).where(User.id == user.id).values(tier=User.tier))


def reserve_execution(user: User) -> None:
    lock_user(user)
    tier = tier_of(user)
    today, active = counts(user)
    if today >= tier["executions_per_day"]:
        db.session.rollback()
        retry = int((day_start() + timedelta(days=1) - datetime.now(timezone.utc)).total_seconds()) + 1
        raise refuse(429, "daily_quota_exceeded", user, "executions_per_day", today + 1,
                     "the daily execution quota is used up", headers={"Retry-After": str(retry)})
    if active >= tier["concurrent_executions"]:
        db.session.rollback()
        raise refuse(429, "concurrency_limit", user, "concurrent_executions", active + 1,
                     f"{active} executions are still queued or running", headers={"Retry-After": "1"})
