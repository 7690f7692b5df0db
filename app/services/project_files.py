"""Project file contents: read one by name, write under the per-user lock.

Every write takes the caller's lock first and only then reads what it checks (the file's
current size, the names it could clash with, the storage used), so a write that waited for
the lock never acts on what it saw before. Content and size are always written together.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..dml import rows_changed
from ..errors import Problem
from ..extensions import db
from ..models import Project, ProjectFile, User, utcnow
from .projects import get_owned, storage_used
from .quotas import lock_user
from .tiers import refuse, tier_of


@dataclass(frozen=True)
class StoredFile:
    project_id: str
    filename: str
    content: str
    size: int
    created_at: datetime
    updated_at: datetime


def _not_found(project_id: str, filename: str) -> Problem:
    return Problem(404, "file_not_found", f"no file {filename!r} in project {project_id!r}", filename=filename)


def read(user: User, project_id: str, filename: str) -> StoredFile:
    project = get_owned(user, project_id)
    row = db.session.execute(sa.select(
        ProjectFile.content, ProjectFile.size, ProjectFile.created_at, ProjectFile.updated_at
    ).where(ProjectFile.project_id == project.id, ProjectFile.filename == filename)).one_or_none()
    if row is None:
        raise _not_found(project_id, filename)
    return StoredFile(project.id, filename, *row)


def contents(project_id: str) -> dict[str, str]:
    """Every file of the project with its content (a run places them all)."""
    return dict(db.session.execute(sa.select(ProjectFile.filename, ProjectFile.content)
                                   .where(ProjectFile.project_id == project_id)).all())


def _check_limits(user: User, project_id: str, filename: str, size: int, replacing: int | None = None) -> None:
    """Tier limits, read under the caller's lock; `replacing`: the size of the file being replaced."""
    tier = tier_of(user)
    if size > tier["max_file_kb"] * 1024:
        raise refuse(413, "file_too_large", user, "max_file_kb", -(-size // 1024), f"{filename!r} is too large")
    if replacing is None:
        files = db.session.execute(sa.select(sa.func.count()).where(ProjectFile.project_id == project_id)).scalar_one()
        if files >= tier["max_files_per_project"]:
            raise refuse(422, "too_many_files", user, "max_files_per_project", files + 1,
                         "the project has as many files as allowed")
    total = storage_used(user) - (replacing or 0) + size
    if total > tier["storage_mb"] * 1024 * 1024:
        raise refuse(422, "storage_quota_exceeded", user, "storage_mb", -(-total // (1 << 20)),
                     "the storage quota would be exceeded")


def _check_name_free(project_id: str, filename: str) -> None:
    """No file of this name, and none that would make it (or be made by it) a directory."""
    parts = filename.split("/")
    parents = ["/".join(parts[:depth]) for depth in range(1, len(parts))]
    taken = db.session.execute(sa.select(ProjectFile.filename).where(
        ProjectFile.project_id == project_id,
        sa.or_(ProjectFile.filename.in_([filename, *parents]),
               sa.func.substr(ProjectFile.filename, 1, len(filename) + 1) == filename + "/"),
    ).limit(2)).scalars().all()
    if filename in taken:
        raise Problem(409, "file_exists", f"{filename!r} already exists; update it instead", filename=filename)
    if taken:
        raise Problem(422, "invalid_file_name", f"{filename!r} conflicts with {taken[0]!r} (file versus directory)",
                      file=filename)


def _touch(project_id: str, now: datetime) -> None:
    db.session.execute(sa.update(Project).where(Project.id == project_id).values(updated_at=now))


def create(user: User, data: dict) -> StoredFile:
    content, name = data["content"], data["filename"]
    size = len(content.encode())
    lock_user(user)  # storage is a quota too: parallel writes are checked one after another
    project_id = get_owned(user, data["project_id"]).id
    _check_name_free(project_id, name)
    _check_limits(user, project_id, name, size)
    now = utcnow()
    db.session.execute(sa.insert(ProjectFile).values(project_id=project_id, filename=name, content=content,
                                                     size=size, created_at=now, updated_at=now))
    _touch(project_id, now)
    try:
        db.session.commit()
    except IntegrityError:  # the lock makes this unreachable for the API; a direct writer may still race
        db.session.rollback()
        raise Problem(409, "file_exists", f"{name!r} already exists; update it instead", filename=name) from None
    return StoredFile(project_id, name, content, size, now, now)


def update(user: User, data: dict) -> StoredFile:
    content, name = data["content"], data["filename"]
    size = len(content.encode())
    lock_user(user)
    project_id = get_owned(user, data["project_id"]).id
    current = db.session.execute(sa.select(ProjectFile.id, ProjectFile.size, ProjectFile.created_at).where(
        ProjectFile.project_id == project_id, ProjectFile.filename == name)).one_or_none()
    if current is None:
        raise _not_found(data["project_id"], name)
    _check_limits(user, project_id, name, size, replacing=current.size)
    now = utcnow()
    db.session.execute(sa.update(ProjectFile).where(ProjectFile.id == current.id)
                       .values(content=content, size=size, updated_at=now)
                       .execution_options(synchronize_session=False))
    _touch(project_id, now)
    db.session.commit()
    return StoredFile(project_id, name, content, size, current.created_at, now)


def delete(user: User, project_id: str, filename: str) -> None:
    lock_user(user)
    owned = get_owned(user, project_id).id
    deleted = rows_changed(sa.delete(ProjectFile).where(
        ProjectFile.project_id == owned, ProjectFile.filename == filename
    ).execution_options(synchronize_session=False))
    if deleted != 1:
        raise _not_found(project_id, filename)
    _touch(owned, utcnow())
    db.session.commit()
