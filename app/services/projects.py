"""Projects and their files, always scoped to the caller: another user's project is a 404."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..errors import Problem
from ..extensions import db
from ..models import Project, ProjectFile, User, is_row_id, utcnow
from .quotas import lock_user
from .tiers import refuse, tier_of


def summary(project: Project) -> dict:
    sizes = [f.size for f in project.files]
    last_run = None
    if project.last_run_id:
        last_run = {"id": project.last_run_id, "status": project.last_run_status, "at": project.last_run_at}
    return {**{c: getattr(project, c) for c in ("id", "name", "language", "description", "entry", "created_at",
                                                  "updated_at")},
            "file_count": len(sizes), "total_size": sum(sizes), "last_run": last_run}


def detail(project: Project) -> dict:
    return {**summary(project), "files": list(project.files)}


def get_owned(user: User, project_id: str) -> Project:
    project = db.session.execute(
        sa.select(Project).where(Project.id == project_id, Project.user_id == user.id)
    ).scalar_one_or_none() if is_row_id(project_id) else None
    if project is None:
        raise Problem(404, "project_not_found", f"no project {project_id!r}", project_id=project_id)
    return project


def create(user: User, data: dict) -> Project:
    if data.get("language"):
        from .runs import resolve_language

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


def list_owned(user: User) -> list[Project]:
    return list(db.session.execute(
        sa.select(Project).where(Project.user_id == user.id).order_by(Project.created_at.desc(), Project.id)
    ).scalars())


def delete(user: User, project_id: str) -> None:
    db.session.delete(get_owned(user, project_id))
    db.session.commit()


def get_file(user: User, project_id: str, filename: str) -> ProjectFile:
    project = get_owned(user, project_id)
    for file in project.files:
        if file.filename == filename:
            return file
    raise Problem(404, "file_not_found", f"no file {filename!r} in project {project_id!r}", filename=filename)


def storage_used(user: User) -> int:
    return db.session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(ProjectFile.size), 0)).join(Project).where(Project.user_id == user.id)
    ).scalar_one()


def _check_limits(user: User, project: Project, filename: str, size: int, replacing: int = 0) -> None:
    lock_user(user)  # storage is a quota too: parallel writes are counted one after another
    tier = tier_of(user)
    if size > tier["max_file_kb"] * 1024:
        raise refuse(413, "file_too_large", user, "max_file_kb", -(-size // 1024), f"{filename!r} is too large")
    files = db.session.scalar(sa.select(sa.func.count()).where(ProjectFile.project_id == project.id))
    if not replacing and files >= tier["max_files_per_project"]:
        raise refuse(422, "too_many_files", user, "max_files_per_project", files + 1,
                     "the project has as many files as allowed")
    total = storage_used(user) - replacing + size
    if total > tier["storage_mb"] * 1024 * 1024:
        raise refuse(422, "storage_quota_exceeded", user, "storage_mb", -(-total // (1 << 20)),
                     "the storage quota would be exceeded")


def _clashes(project: Project, filename: str) -> str | None:
    """A name that would be both a file and a directory in the work dir."""
    for other in project.files:
        if other.filename.startswith(filename + "/") or filename.startswith(other.filename + "/"):
            return other.filename
    return None


def create_file(user: User, data: dict) -> ProjectFile:
    project = get_owned(user, data["project_id"])
    content, name = data["content"], data["filename"]
    size = len(content.encode())
    if any(f.filename == name for f in project.files):
        raise Problem(409, "file_exists", f"{name!r} already exists; update it instead", filename=name)
    clash = _clashes(project, name)
    if clash:
        raise Problem(422, "invalid_file_name", f"{name!r} conflicts with {clash!r} (file versus directory)",
                      file=name)
    _check_limits(user, project, name, size)
    file = ProjectFile(project=project, filename=name, content=content, size=size)
    project.updated_at = utcnow()
    db.session.add(file)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Problem(409, "file_exists", f"{name!r} already exists; update it instead", filename=name) from None
    return file


def update_file(user: User, data: dict) -> ProjectFile:
    file = get_file(user, data["project_id"], data["filename"])
    size = len(data["content"].encode())
    _check_limits(user, file.project, file.filename, size, replacing=file.size)
    file.content, file.size = data["content"], size
    file.updated_at = file.project.updated_at = utcnow()
    db.session.commit()
    return file


def delete_file(user: User, project_id: str, filename: str) -> None:
    file = get_file(user, project_id, filename)
    file.project.updated_at = utcnow()
    db.session.delete(file)
    db.session.commit()
