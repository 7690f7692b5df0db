"""Retention: executions (live runs among them) and batches older than RETENTION_DAYS are deleted,
final ones only, in short transactions (docs/retention.md). Usage records stay: billing outlives runs.

Celery beat sends `tasks.retention.prune` to the maintenance queue every RETENTION_INTERVAL_SECONDS;
every worker consumes it, and a Redis lock lets one prune at a time (a second beat, a redelivery or
`codestudio prune` meanwhile finds the lock held and leaves it). `codestudio prune` runs the same
logic once, or only reports with --dry-run."""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from .celery_typing import BoundTask, bound_task
from .execution import redis_client
from .ports import Pruned, RetentionPorts, ports
from .routing import RETENTION_TASK

log = logging.getLogger(__name__)

LOCK_KEY = "codestudio:retention:lock"
LAST_REPORT_KEY = "codestudio:retention:last"  # the last report, for operators (and tests)
TIME_LIMIT_SECONDS = 3600  # a large backlog prunes over several runs: every chunk is committed
LOCK_SECONDS = TIME_LIMIT_SECONDS + 60  # outlives the task even if it is killed at its hard limit


@dataclass(frozen=True)
class PruneReport:
    cutoff: datetime  # rows created before this went (or would go)
    dry_run: bool
    kinds: tuple[Pruned, ...]

    def as_dict(self) -> dict[str, Any]:
        def kind(pruned: Pruned) -> dict[str, Any]:
            dates = {k: v.isoformat() if v else None for k, v in asdict(pruned).items() if k in ("oldest", "newest")}
            return {"kind": pruned.kind, "rows": pruned.rows, **dates}
        return {"cutoff": self.cutoff.isoformat(), "dry_run": self.dry_run, "kinds": [kind(k) for k in self.kinds]}

    def summary(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        counts = ", ".join(f"{k.rows} {k.kind}" for k in self.kinds)
        return f"retention {verb} {counts} (created before {self.cutoff:%Y-%m-%d %H:%M} UTC)"


class RetentionBusy(RuntimeError):
    """Another process is pruning now."""


def cutoff(days: float, now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) - timedelta(days=days)


def survey(retention: RetentionPorts, now: datetime | None = None) -> PruneReport | None:
    """What pruning would delete now; None when retention keeps everything (0 days)."""
    if retention.days <= 0:
        return None
    before = cutoff(retention.days, now)
    return PruneReport(before, True, retention.store.survey(before))


def remember(client: redis.Redis, report: PruneReport) -> PruneReport:
    client.set(LAST_REPORT_KEY, json.dumps({**report.as_dict(), "at": datetime.now(UTC).isoformat()}))
    return report


def survey_now(retention: RetentionPorts, client: redis.Redis) -> PruneReport | None:
    """A dry run, its report kept like a prune's."""
    report = survey(retention)
    return remember(client, report) if report else None


def prune_now(retention: RetentionPorts, client: redis.Redis, now: datetime | None = None) -> PruneReport | None:
    """Prune once under the lock (RetentionBusy if another process holds it); None at 0 days."""
    if retention.days <= 0:
        return None
    lock = client.lock(LOCK_KEY, timeout=LOCK_SECONDS, blocking=False)
    if not lock.acquire():
        raise RetentionBusy("another process is pruning now")
    try:
        before = cutoff(retention.days, now)
        return remember(client, PruneReport(before, False, retention.store.prune(before, retention.chunk_rows)))
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:  # expired meanwhile: whoever holds it now keeps it
            pass


# acks_late off: a prune a worker loses is done by the next scheduled one, never redelivered into a
# second concurrent prune; its messages expire (the beat entry) so an idle queue never piles them up
@bound_task(name=RETENTION_TASK, acks_late=False, max_retries=0, time_limit=TIME_LIMIT_SECONDS,
            soft_time_limit=TIME_LIMIT_SECONDS - 60)
def prune(self: BoundTask, dry_run: bool = False) -> None:
    retention = ports().retention
    if retention is None:
        log.info("retention: not wired here, nothing pruned")
        return
    client = redis_client(self.app.conf.codestudio_redis_url)
    try:
        report = survey_now(retention, client) if dry_run else prune_now(retention, client)
    except RetentionBusy:
        log.info("retention: another worker is pruning now")
        return
    log.info("%s", report.summary() if report else "retention: RETENTION_DAYS is 0, everything is kept")


def beat_schedule(days: float, interval_seconds: float, dry_run: bool = False) -> dict[str, dict[str, Any]]:
    """Celery beat's entry for retention (none when everything is kept); a dry run only reports."""
    if days <= 0:
        return {}
    return {"codestudio-retention": {"task": RETENTION_TASK, "schedule": interval_seconds,
                                     "kwargs": {"dry_run": dry_run}, "options": {"expires": interval_seconds}}}
