"""Projects and their file listings, always scoped to the caller: another user's project is a 404.

Nothing here reads file contents: counts, sizes and listings come from the metadata columns
(a project may hold 2000 files of 1 MiB). Contents are read and written in project_files.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..errors import Problem
from ..extensions import db
from ..models import Project, ProjectFile, User, is_row_id
from .artifacts import bytes_stored
from .quotas import lock_user
from .run_checks import resolve_language


@dataclass(frozen=True)
class FileMeta:
    """A project file without its content."""
    filename: str
    size: int
    created_at: datetime
    updated_at: datetime


META_COLUMNS = (ProjectFile.filename, ProjectFile.size, ProjectFile.created_at, ProjectFile.updated_at)


def summary(project: Project, count: int, total_size: int) -> dict:
    last_run = None
    if project.last_run_id:
        last_run = {"id": project.last_run_id, "status": project.last_run_status, "at": project.last_run_at}
    return {**{c: getattr(project, c) for c in ("id", "name", "language", "description", "entry", "created_at",
                                                  "updated_at")},
            "file_count": count, "total_size": total_size, "last_run": last_run}


def file_listing(project_id: str, limit: int | None = None, after: str | None = None) -> list[FileMeta]:
    """The project's files by name: all of them, or `limit` of them after the name `after`."""
    query = sa.select(*META_COLUMNS).where(ProjectFile.project_id == project_id)
    if after is not None:
        query = query.where(ProjectFile.filename > after)
    return [FileMeta(*row) for row in db.session.execute(query.order_by(ProjectFile.filename).limit(limit))]


def file_page(project_id: str, limit: int, after: str | None) -> tuple[list[FileMeta], str | None]:
    """One page of the listing and the cursor of the next (None on the last)."""
    files = file_listing(project_id, limit + 1, after)
    return files[:limit], (files[limit - 1].filename if len(files) > limit else None)


def detail(project: Project) -> dict:
    files = file_listing(project.id)
    return {**summary(project, len(files), sum(f.size for f in files)), "files": files}


def get_owned(user: User, project_id: str) -> Project:
    project = db.session.execute(
        sa.select(Project).where(Project.id == project_id, Project.user_id == user.id)
    ).scalar_one_or_none() if is_row_id(project_id) else None
    if project is None:
        raise Problem(404, "project_not_found", f"no project {project_id!r}", project_id=project_id)
    return project


def create(user: User, data: dict) -> Project:
    if data.get("language"):
        data["language"] = resolve_language(data["language"]).id
    project = Project(user_id=user.id, **data)
    db.session.add(project)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Problem(409, "project_exists", f"you already have a project named {data['name']!r}",
                      name=data["name"]) from None
    return project


def list_owned(user: User) -> list[dict]:
    """Summaries of the user's projects, newest first (two queries, whatever their files)."""
    projects = db.session.execute(
        sa.select(Project).where(Project.user_id == user.id).order_by(Project.created_at.desc(), Project.id)
    ).scalars().all()
    totals = {pid: (count, size) for pid, count, size in db.session.execute(
        sa.select(ProjectFile.project_id, sa.func.count(), sa.func.coalesce(sa.func.sum(ProjectFile.size), 0))
        .join(Project).where(Project.user_id == user.id).group_by(ProjectFile.project_id))}
    return [summary(p, *totals.get(p.id, (0, 0))) for p in projects]


def delete(user: User, project_id: str) -> None:
    lock_user(user)  # after writes to its files that are under way, never between their checks and commit
    project = get_owned(user, project_id)
    db.session.execute(sa.delete(Project).where(Project.id == project.id))  # its files: ON DELETE CASCADE
    db.session.commit()


def storage_used(user: User) -> int:
    """Project files and kept run artifacts: both count against the tier's storage_mb."""
    return bytes_stored(user.id)
