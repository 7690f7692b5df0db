"""Run artifacts (files a run wrote under /work/out/): what a run may keep (its tier's caps, its
owner's storage quota), their rows (written with the run's result by app/stores/), looking one up
for its owner, and the expiry of old ones and of the blobs no row names any more."""
from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import contains_eager

from tasks.artifact_store import BlobStore
from tasks.ports import ArtifactPolicy, KeptArtifacts, ports

from ..dml import rows_changed
from ..errors import Problem
from ..extensions import db
from ..models import Artifact, Batch, BatchCase, Execution, Project, ProjectFile, User, new_id, utcnow

log = logging.getLogger(__name__)

# a blob no row names is removed only once it is this old: one written just now may be waiting
# for the transaction that records its row (a blob written again is fresh again)
ORPHAN_GRACE = timedelta(hours=1)
EXPIRE_BATCH = 1000


def stored_bytes(user_id: int | sa.ColumnExpressionArgument[int]) -> sa.ColumnElement[int]:
    """What the user's storage quota counts (project files and kept artifacts), as a SQL
    expression: a query of its own, or a column of a larger one (a worker's claim)."""
    files = sa.select(sa.func.coalesce(sa.func.sum(ProjectFile.size), 0)).join(Project).where(
        Project.user_id == user_id).scalar_subquery()
    kept = sa.select(sa.func.coalesce(sa.func.sum(Artifact.size), 0)).where(
        Artifact.user_id == user_id).scalar_subquery()
    return files + kept


def bytes_stored(user_id: int) -> int:
    """What the user's storage quota counts: project files and kept artifacts."""
    return int(db.session.execute(sa.select(stored_bytes(user_id))).scalar_one())


def policy(tier_name: str, stored: int) -> ArtifactPolicy:
    """What a run of a user on this tier may keep, the user storing `stored` bytes already."""
    tiers = current_app.config["TIERS"]
    tier = tiers.get(tier_name) or tiers["free"]
    quota = int(tier["storage_mb"]) << 20
    return ArtifactPolicy(tier=tier_name if tier_name in tiers else "free", files=int(tier["artifact_files"]),
                          total_bytes=int(tier["artifact_mb"]) << 20, quota_bytes=quota,
                          room_bytes=max(0, quota - stored))


def insert_rows(kept: KeptArtifacts, user_id: int, now: datetime, execution_id: str | None = None,
                batch_case_id: int | None = None) -> None:
    """The kept files' rows, in the caller's transaction (the one that records the result)."""
    if not kept.files:
        return
    expires = now + timedelta(hours=current_app.config["ARTIFACT_RETENTION_HOURS"])
    db.session.execute(sa.insert(Artifact), [
        dict(id=new_id(), execution_id=execution_id,
             batch_case_id=batch_case_id, user_id=user_id, name=f.name, size=f.size, mime=f.mime, sha256=f.sha256,
             created_at=now, expires_at=expires) for f in kept.files])


def blobs() -> BlobStore:
    wired = ports().artifacts
    if wired is None:
        raise Problem(404, "artifact_not_found", "no artifact store is configured")
    return wired.blobs


def _not_found(name: str) -> Problem:
    return Problem(404, "artifact_not_found", f"no artifact {name!r}", name=name)


def _live(query: sa.Select) -> sa.Select:
    return query.where(Artifact.expires_at > utcnow())


def of_execution(user: User, execution_id: str, name: str) -> Artifact:
    """One of the caller's executions' artifacts; another user's is as absent as a missing one."""
    found = db.session.execute(_live(sa.select(Artifact).join(Execution, Artifact.execution_id == Execution.id).where(
        Execution.id == execution_id, Execution.user_id == user.id, Artifact.name == name))).scalar_one_or_none()
    if found is None:
        raise _not_found(name)
    return found


def of_case(user: User, batch_id: str, case_id: int, name: str) -> Artifact:
    found = db.session.execute(_live(sa.select(Artifact).join(BatchCase, Artifact.batch_case_id == BatchCase.id)
                                     .join(Batch, BatchCase.batch_id == Batch.id).where(
        Batch.id == batch_id, Batch.user_id == user.id, BatchCase.id == case_id, Artifact.name == name))
    ).scalar_one_or_none()
    if found is None:
        raise _not_found(name)
    return found


def by_case(case_ids: Iterable[int]) -> dict[int, list[Artifact]]:
    """The artifacts of these batch cases, by name (one query for a page of results)."""
    ids = list(case_ids)
    grouped: dict[int, list[Artifact]] = defaultdict(list)
    if ids:
        query = sa.select(Artifact).join(BatchCase, Artifact.batch_case_id == BatchCase.id).options(
            contains_eager(Artifact.batch_case)).where(Artifact.batch_case_id.in_(ids)).order_by(Artifact.name)
        for row in db.session.execute(_live(query)).scalars():
            grouped[row.batch_case_id].append(row)
    return grouped


def expire(store: BlobStore, now: datetime | None = None, grace: timedelta = ORPHAN_GRACE) -> tuple[int, int]:
    """Remove the rows past their expiry, then every blob no row names that is older than `grace`
    (those rows' blobs, and any a run stored but never recorded). (rows removed, blobs removed)."""
    now = now or utcnow()
    rows = 0
    while True:  # in slices: a short transaction each, however many expire at once
        ids = db.session.execute(sa.select(Artifact.id).where(Artifact.expires_at <= now).limit(EXPIRE_BATCH)
                                 ).scalars().all()
        if not ids:
            break
        rows += rows_changed(sa.delete(Artifact).where(Artifact.id.in_(ids)))
        db.session.commit()
    named = set(db.session.execute(sa.select(Artifact.sha256).distinct()).scalars())
    db.session.rollback()  # end the read: rows recorded from here on name blobs fresher than `grace`
    oldest = (now - grace).timestamp()
    removed = 0
    for sha, modified in list(store.blobs()):
        if sha not in named and modified <= oldest:
            store.delete(sha)
            removed += 1
    if rows or removed:
        log.info("artifacts: %d expired, %d blobs removed", rows, removed)
    return rows, removed
