"""Execution quotas (per day, concurrent), checked and consumed atomically per user.

The first statement of the transaction is a write to the caller's user row: PostgreSQL then
holds the row lock and SQLite the database write lock until the execution row commits, so
parallel requests of one user are counted one after another and can never exceed a quota.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from sandbox import ACTIVE_STATUSES

from ..extensions import db
from ..models import (
    BATCH_ACTIVE,
    BATCH_CREATING,
    Batch,
    Execution,
    User,
)
from .tiers import refuse, tier_of

# a batch is `creating` for as long as its rows take to write (seconds); one still `creating` after
# this was left behind by a request that died mid-way, and reserves nothing any more
CREATING_STALE_AFTER = timedelta(minutes=10)


def _reserving(now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(Batch.status != BATCH_CREATING, Batch.created_at >= now - CREATING_STALE_AFTER)


def day_start(now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def counts(user: User) -> tuple[int, int]:
    """(executions today: every run asked for, with batch runs reserved today; executions queued
    or running)."""
    executions = sa.select(
        sa.func.coalesce(sa.func.sum(Execution.runs).filter(Execution.created_at >= day_start()), 0).label("today"),
        sa.func.count().filter(Execution.status.in_(ACTIVE_STATUSES)).label("active"),
    ).where(Execution.user_id == user.id).subquery()
    batch_runs = sa.select(sa.func.coalesce(sa.func.sum(Batch.total - Batch.cancelled), 0)).where(
        Batch.user_id == user.id, Batch.created_at >= day_start(), _reserving(datetime.now(UTC))).scalar_subquery()
    # one statement, so both counts see the same snapshot (and it is one round trip)
    today, active, batch_today = db.session.execute(
        sa.select(executions.c.today, executions.c.active, batch_runs)).one()
    return int(today) + int(batch_today), int(active)


def _refuse_daily(user: User, today: int, needed: int, detail: str):
    db.session.rollback()
    retry = int((day_start() + timedelta(days=1) - datetime.now(UTC)).total_seconds()) + 1
    return refuse(429, "daily_quota_exceeded", user, "executions_per_day", today + needed, detail,
                  headers={"Retry-After": str(retry)})


def lock_user(user: User) -> None:
    """Serialize this user's quota checks until the transaction ends (see the module doc)."""
    db.session.execute(sa.update(User).where(User.id == user.id).values(tier=User.tier))


def reserve_execution(user: User, count: int = 1, runs: int | None = None, live: int = 0) -> None:
    """Reserve `count` executions at once: they all fit the daily and concurrency quotas, or
    none is taken (a refusal rolls the transaction back). Each run counts against the daily
    quota: `runs` is how many they make in all (Judge0's number_of_runs), by default one each.
    `live` of them are live runs: those also fit the tier's cap on live runs queued or running."""
    lock_user(user)
    tier = tier_of(user)
    today, active = counts(user)
    runs = count if runs is None else runs
    if today + runs > tier["executions_per_day"]:
        left = max(0, tier["executions_per_day"] - today)
        raise _refuse_daily(user, today, runs, "the daily execution quota is used up" if runs == 1 or not left
                            else f"{runs} executions requested and {left} are left today")
    if active + count > tier["concurrent_executions"]:
        db.session.rollback()
        more = f"; {count} more requested" if count > 1 else ""
        raise refuse(429, "concurrency_limit", user, "concurrent_executions", active + count,
                     f"{active} executions are still queued or running{more}", headers={"Retry-After": "1"})
    if live:
        _check_live(user, tier, live)


def _check_live(user: User, tier: dict, count: int) -> None:
    """Live runs hold a connection (and an API thread) while they run: the tier caps how many."""
    active_live = db.session.execute(sa.select(sa.func.count()).where(
        Execution.user_id == user.id, Execution.live.isnot(None),
        Execution.status.in_(ACTIVE_STATUSES))).scalar_one()
    if active_live + count > tier["live_concurrent"]:
        db.session.rollback()
        raise refuse(429, "concurrency_limit", user, "live_concurrent", active_live + count,
                     f"{active_live} live runs are still queued or running", headers={"Retry-After": "1"})


def reserve_batch(user: User, runs: int) -> None:
    """A batch reserves all its runs up front: it fits today's quota whole, or is refused."""
    lock_user(user)
    tier = tier_of(user)
    if runs > tier["batch_max_runs"]:
        db.session.rollback()
        raise refuse(422, "batch_too_large", user, "batch_max_runs", runs,
                     f"the batch needs {runs} runs (submissions x tests)")
    today, _ = counts(user)
    if today + runs > tier["executions_per_day"]:
        left = max(0, tier["executions_per_day"] - today)
        raise _refuse_daily(user, today, runs, f"the batch needs {runs} runs and {left} are left today")
    active = db.session.execute(sa.select(sa.func.count()).where(
        Batch.user_id == user.id, Batch.status.in_((*BATCH_ACTIVE, BATCH_CREATING)),
        _reserving(datetime.now(UTC)))).scalar_one()
    if active >= tier["concurrent_batches"]:
        db.session.rollback()
        raise refuse(429, "concurrency_limit", user, "concurrent_batches", active + 1,
                     f"{active} batches are still queued or running", headers={"Retry-After": "5"})
