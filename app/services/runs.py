"""Accepting a run: validate limits, record the execution, enqueue, optionally wait."""
from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime

import redis as redis_lib
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from sandbox import FINAL_STATUSES, Language
from tasks import keys
from tasks.execution import execute_run

from ..celery import bound
from ..errors import Problem
from ..extensions import db
from ..models import Execution, Project, User, is_row_id
from ..stores.executions import SqlExecutionStore
from . import idempotency, project_files, projects
from .quotas import reserve_execution
from .run_checks import check_sizes, check_work_dir_layout, effective_limits, resolve_language
from .run_request import PreparedRun, RunRequest, SourceFile
from .workers import is_live, redis


def _from_project(project: Project, request: RunRequest, lang: Language) -> tuple[str, list[SourceFile], str | None]:
    """(code, files, entry name) with the project's files in: the request's files override stored
    ones of the same name, and code sent replaces the project's file of the entry's name."""
    stored = project_files.contents(project.id)
    entry = None
    if request.code is None:
        entry = request.filename or project.entry or lang.main
        if entry not in stored:
            raise Problem(422, "entry_not_found", f"project {project.id!r} has no file {entry!r} to run", file=entry)
        code = stored.pop(entry)
    else:
        code = request.code
        stored.pop(lang.main, None)
    sent = {f.name for f in request.files}
    files = [SourceFile(n, c) for n, c in stored.items() if n not in sent] + list(request.files)
    return code, files, entry


def prepare(user: User, request: RunRequest) -> PreparedRun:
    """Every check of a run request short of the quotas: the values of its Execution row."""
    project = projects.get_owned(user, request.project_id) if request.project_id else None
    language = request.language or (project.language if project else None)
    if language is None:  # the schema requires one unless a project is named
        raise Problem(422, "language_required", "the project has no language; send `language`")
    lang = resolve_language(language, request.version)
    if project is not None:
        code, files, entry = _from_project(project, request, lang)
    else:
        assert request.code is not None  # every API requires code without a project
        code, files, entry = request.code, list(request.files), request.entry
    check_sizes(code, request.stdin, (f.content for f in files))
    check_work_dir_layout((f.name for f in files), entry or lang.main)
    timeout, memory = effective_limits(user, request.limits)
    return PreparedRun(user_id=user.id, language=lang.id, code=code, stdin=request.stdin.encode(),
                       args=list(request.args), files=[{"name": f.name, "content": f.content} for f in files],
                       timeout=timeout, memory_mb=memory, project_id=request.project_id, entry_name=entry,
                       runs=request.runs, live=asdict(request.live) if request.live is not None else None)


# what sending a new run and waiting for it read of its row, none of which a worker changes: kept
# through the commit's expiry, so neither reloads the row (the others, the status among them, load on use)
KEPT_THROUGH_COMMIT = ("id", "language", "runs", "timeout")


def record(user: User, prepared: list[PreparedRun],
           attach: Callable[[int, Execution], None] | None = None) -> list[Execution]:
    """Reserve quota for all the prepared runs and record them in one transaction: all or none.
    `attach(index, execution)` adds related rows in the same transaction. Not yet enqueued."""
    # atomic per user until the commit below; each run of a repeated run counts against the daily quota
    reserve_execution(user, len(prepared), runs=sum(values.runs for values in prepared),
                      live=sum(values.live is not None for values in prepared))
    rows = [Execution(**asdict(values)) for values in prepared]
    for index, execution in enumerate(rows):
        db.session.add(execution)
        if attach is not None:
            attach(index, execution)
    db.session.flush()
    kept = [{name: getattr(row, name) for name in KEPT_THROUGH_COMMIT} for row in rows]
    db.session.commit()  # committed before enqueue: the worker must find the row
    for row, values in zip(rows, kept, strict=True):
        for name, value in values.items():
            set_committed_value(row, name, value)
    return rows


def submit(user: User, request: RunRequest, attach: Callable[[Execution], None] | None = None) -> Execution:
    """Record and enqueue a run; `attach(execution)` adds related rows in the same transaction."""
    execution = accept(user, request, attach)
    enqueue(execution)
    return execution


def accept(user: User, request: RunRequest, attach: Callable[[Execution], None] | None = None) -> Execution:
    """Check and record a run (not yet enqueued)."""
    values = prepare(user, request)
    if request.wait and not is_live(values.language):
        raise Problem(503, "no_worker", f"no worker is serving {values.language} right now; retry later or "
                      "submit with wait=false to queue it", language=values.language)
    [execution] = record(user, [values], None if attach is None else lambda _, row: attach(row))
    return execution


def submit_once(user: User, request: RunRequest, claim: idempotency.Claim | None) -> tuple[Execution, bool]:
    """(the execution, whether it is a replay): with a claim, the key's first request records and
    enqueues a run; a repeat answers with that run (idempotency.Claim.once)."""
    if claim is None:
        return submit(user, request), False

    def create() -> Execution:
        return accept(user, request, lambda row: claim.record(execution=row))

    execution, replayed = claim.once(create, lambda prior: get_owned(user, str(prior.execution_id)))
    if not replayed:
        try:
            enqueue(execution)
        except Problem:
            claim.release()  # the run failed unsent: a retry with the key runs it anew
            raise
    return execution, replayed


def enqueue(execution: Execution) -> None:
    try:  # routed to the language's queue (tasks/routing.py)
        bound(execute_run).apply_async(args=[execution.id], kwargs={"language": execution.language})
    except Exception as exc:  # ended like any failed run: recorded, with its (zero-cost) usage line
        SqlExecutionStore().fail(execution.id, "could not enqueue: broker unavailable")
        raise Problem(503, "broker_unavailable", "the queue broker is unavailable; retry later",
                      execution_id=execution.id) from exc


def wait_for(execution: Execution, seconds: float) -> Execution:
    """Block on the worker's completion signal (no DB polling); then reload the row. If Redis
    fails meanwhile the execution is still accepted: the caller gets it as it is (a 202).
    The signal is taken and put back in one atomic command (the list rotated onto itself), so it
    stays for the next waiter on the same execution (a request replayed with its Idempotency-Key
    waits on it too) and expires as the worker set it to."""
    try:
        key = keys.done_key(execution.id)
        redis().brpoplpush(key, key, timeout=max(1, int(seconds + 0.999)))
    except redis_lib.exceptions.RedisError:
        current_app.logger.warning("execution %s: lost Redis while waiting for it", execution.id)
    db.session.expire(execution)
    return db.session.get_one(Execution, execution.id)


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
    rows = db.session.execute(  # a page's artifacts in one more query, not one per execution
        query.order_by(Execution.created_at.desc(), Execution.id.desc()).limit(limit + 1)
        .options(selectinload(Execution.artifacts))
    ).scalars().all()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(rows[-1]) if more and rows else None)
