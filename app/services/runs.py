"""Accepting a run: validate limits, record the execution, enqueue, optionally wait."""
from __future__ import annotations

import base64
from datetime import datetime

import redis as redis_lib
import sqlalchemy as sa
from flask import current_app

from sandbox import UnknownLanguage, filenames, registry
from tasks import keys
from tasks.routing import EXECUTE_TASK

from ..errors import Problem
from ..extensions import db
from ..models import FINAL_STATUSES, Execution, User, is_row_id
from . import project_files, projects
from .execution_store import SqlExecutionStore
from .quotas import reserve_execution
from .tiers import refuse, tier_of
from .workers import is_live, redis


def resolve_language(name: str):
    try:
        return registry().get(name)
    except UnknownLanguage:
        known = sorted(lang.id for lang in registry())
        raise Problem(422, "unknown_language", f"unknown language {name!r}; known: {', '.join(known)}",
                      language=name) from None


def effective_limits(user: User, requested: dict) -> tuple[float, int]:
    """Requested limits, or defaults clamped to the tier; above the tier maximum is refused."""
    cfg, tier = current_app.config, tier_of(user)
    timeout = requested.get("timeout", min(cfg["RUN_DEFAULT_TIMEOUT"], tier["max_timeout"]))
    memory = requested.get("memory_mb", min(cfg["RUN_DEFAULT_MEMORY_MB"], tier["max_memory_mb"]))
    for field, value in (("timeout", timeout), ("memory_mb", memory)):
        if value > tier[f"max_{field}"]:
            problem = refuse(422, "limit_exceeded", user, f"max_{field}", value, f"{field}={value} is too large")
            problem.extra["limit"] = field
            raise problem
    return float(timeout), int(memory)


def check_sizes(data: dict) -> None:
    cfg = current_app.config
    if len(data["code"].encode()) > cfg["MAX_CODE_BYTES"]:
        raise Problem(413, "code_too_large", f"code is larger than {cfg['MAX_CODE_BYTES']} bytes")
    if len(data["stdin"].encode()) > cfg["MAX_STDIN_BYTES"]:
        raise Problem(413, "stdin_too_large", f"stdin is larger than {cfg['MAX_STDIN_BYTES']} bytes")
    total = sum(len(f["content"].encode()) for f in data["files"])
    if total > cfg["MAX_CODE_BYTES"]:
        raise Problem(413, "files_too_large", f"files total more than {cfg['MAX_CODE_BYTES']} bytes")


def check_work_dir_layout(files: list[dict], main: str) -> None:
    """The entry file and the others fit one work dir: in their normal form (stored project files
    may predate it) no name twice and no file where another needs a directory."""
    try:
        filenames.check_layout([main, *(f["name"] for f in files)])
    except filenames.FileNameError as exc:
        raise Problem(422, "invalid_file_name", f"{exc} (the entry file is {main!r})", file=exc.name) from None


def _from_project(project, data: dict, lang) -> str | None:
    """Fill code and files from the project; returns the entry file's name when it is a project file."""
    stored = project_files.contents(project.id)
    entry = None
    if data.get("code") is None:
        entry = data.get("filename") or project.entry or lang.main
        if entry not in stored:
            raise Problem(422, "entry_not_found", f"project {project.id!r} has no file {entry!r} to run", file=entry)
        data["code"] = stored.pop(entry)
    else:  # the code sent replaces the project's file of the entry's name
        stored.pop(lang.main, None)
    sent = {f["name"] for f in data["files"]}  # files in the request override the stored ones
    data["files"] = [{"name": n, "content": c} for n, c in stored.items() if n not in sent] + data["files"]
    return entry


def prepare(user: User, data: dict) -> dict:
    """Every check of a run request short of the quotas: the values of its Execution row."""
    project = projects.get_owned(user, data["project_id"]) if data.get("project_id") else None
    language = data.get("language") or (project.language if project else None)
    if language is None:  # the schema requires one unless a project is named
        raise Problem(422, "language_required", "the project has no language; send `language`")
    lang = resolve_language(language)
    entry = _from_project(project, data, lang) if project else data.get("entry")
    check_sizes(data)
    check_work_dir_layout(data["files"], entry or lang.main)
    timeout, memory = effective_limits(user, data["limits"])
    return {"user_id": user.id, "language": lang.id, "code": data["code"], "stdin": data["stdin"].encode(),
            "args": list(data["args"]), "files": list(data["files"]), "timeout": timeout, "memory_mb": memory,
            "project_id": data.get("project_id"), "entry_name": entry, "runs": data.get("runs", 1)}


def record(user: User, prepared: list[dict], attach=None) -> list[Execution]:
    """Reserve quota for all the prepared runs and record them in one transaction: all or none.
    `attach(index, execution)` adds related rows in the same transaction. Not yet enqueued."""
    # atomic per user until the commit below; each run of a repeated run counts against the daily quota
    reserve_execution(user, len(prepared), runs=sum(values["runs"] for values in prepared))
    rows = [Execution(**values) for values in prepared]
    for index, execution in enumerate(rows):
        db.session.add(execution)
        if attach is not None:
            attach(index, execution)
    db.session.commit()  # committed before enqueue: the worker must find the row
    return rows


def submit(user: User, data: dict, attach=None) -> Execution:
    """Record and enqueue a run; `attach(execution)` adds related rows in the same transaction."""
    values = prepare(user, data)
    if data["wait"] and not is_live(values["language"]):
        raise Problem(503, "no_worker", f"no worker is serving {values['language']} right now; retry later or "
                      "submit with wait=false to queue it", language=values["language"])
    [execution] = record(user, [values], None if attach is None else lambda _, row: attach(row))
    enqueue(execution)
    return execution


def enqueue(execution: Execution) -> None:
    celery = current_app.extensions["celery"]
    try:
        celery.send_task(EXECUTE_TASK, args=[execution.id], kwargs={"language": execution.language})
    except Exception as exc:  # ended like any failed run: recorded, with its (zero-cost) usage line
        SqlExecutionStore().fail(execution.id, "could not enqueue: broker unavailable")
        raise Problem(503, "broker_unavailable", "the queue broker is unavailable; retry later",
                      execution_id=execution.id) from exc


def wait_for(execution: Execution, seconds: float) -> Execution:
    """Block on the worker's completion signal (no DB polling); then reload the row. If Redis
    fails meanwhile the execution is still accepted: the caller gets it as it is (a 202)."""
    try:
        redis().blpop([keys.done_key(execution.id)], timeout=max(1, int(seconds + 0.999)))
    except redis_lib.exceptions.RedisError:
        current_app.logger.warning("execution %s: lost Redis while waiting for it", execution.id)
    db.session.expire(execution)
    return db.session.get(Execution, execution.id)


def wait_seconds(execution: Execution) -> float:
    return min(current_app.config["RUN_WAIT_CAP_SECONDS"], execution.timeout * (execution.runs or 1) + 15)


def is_final(execution: Execution) -> bool:
    return execution.status in FINAL_STATUSES


def get_owned(user: User, execution_id: str) -> Execution:
    row = db.session.get(Execution, execution_id) if is_row_id(execution_id) else None
    if row is None or row.user_id != user.id:
        raise Problem(404, "execution_not_found", f"no execution {execution_id!r}")
    return row


def encode_cursor(row: Execution) -> str:
    return base64.urlsafe_b64encode(f"{row.created_at.isoformat()}|{row.id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        stamp, row_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return datetime.fromisoformat(stamp), row_id
    except (ValueError, UnicodeDecodeError):
        raise Problem(422, "invalid_cursor", "cursor is not valid") from None


def page(user: User, limit: int, cursor: str | None, status: str | None, language: str | None):
    query = sa.select(Execution).where(Execution.user_id == user.id)
    if status:
        query = query.where(Execution.status == status)
    if language:
        query = query.where(Execution.language == resolve_language(language).id)
    if cursor:
        stamp, row_id = decode_cursor(cursor)
        query = query.where(sa.tuple_(Execution.created_at, Execution.id) < sa.tuple_(stamp, row_id))
    rows = db.session.execute(
        query.order_by(Execution.created_at.desc(), Execution.id.desc()).limit(limit + 1)
    ).scalars().all()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(rows[-1]) if more and rows else None)
