"""Accepting a batch (limits, quota, rows, fan-out), cancelling it, and reading its results."""
from __future__ import annotations

import logging

import redis
import sqlalchemy as sa
from celery import group
from flask import current_app

from sandbox.registry import Language
from tasks.batch import GRADE_SOFT_TIME_LIMIT, grade_submission
from tasks.batch_stop import request_stop
from tasks.grading import grading_seconds

from ..celery import bound
from ..dml import rows_changed
from ..errors import Problem
from ..extensions import db
from ..models import (
    BATCH_ACTIVE,
    BATCH_CREATING,
    Batch,
    User,
    is_row_id,
    utcnow,
)
from . import batch_rows, idempotency
from .quotas import CREATING_STALE_AFTER, reserve_batch
from .run_checks import check_work_dir_layout, effective_limits, resolve_language
from .run_request import Limits
from .workers import is_live

log = logging.getLogger(__name__)

# a submission's tests run one after another in one task; they must fit in its time limit
SUBMISSION_BUDGET_SECONDS = GRADE_SOFT_TIME_LIMIT - 90


def _resolved_tests(user: User, data: dict, lang: Language) -> list[dict]:
    base_timeout, base_memory = effective_limits(user, Limits(**data["limits"]))
    tests, budget = [], lang.compile_limits.timeout if lang.compile else 0.0
    for test in data["tests"]:
        limits = Limits(**{"timeout": base_timeout, "memory_mb": base_memory, **test["limits"]})
        timeout, memory = effective_limits(user, limits)
        _check_size(test["stdin"], "stdin", test["name"])
        _check_size(test["expected_output"], "expected_output", test["name"])
        tests.append(dict(name=test["name"], stdin=test["stdin"], expected_output=test["expected_output"],
                          points=test["points"], args=list(test["args"]), timeout=timeout, memory_mb=memory))
        budget += timeout + 1.0 + grading_seconds(test["expected_output"])  # run, sandbox, grading
    if budget > SUBMISSION_BUDGET_SECONDS:
        raise Problem(422, "batch_too_slow", f"one submission's tests could take {budget:.0f} s; at most "
                      f"{SUBMISSION_BUDGET_SECONDS} s fit (use fewer tests or smaller timeouts)",
                      limit="timeout", maximum=SUBMISSION_BUDGET_SECONDS)
    return tests


def _check_size(text: str, field: str, name: str) -> None:
    limit = current_app.config["MAX_STDIN_BYTES"]
    if len(text.encode()) > limit:
        raise Problem(413, f"{field}_too_large", f"test {name!r}: {field} is larger than {limit} bytes", test=name)


def _submission_row(position: int, sub: dict, lang: Language) -> dict:
    files, code, entry = list(sub["files"]), sub["code"], None
    if code is None:  # the first file is the entry
        first = files.pop(0)
        code, entry = first["content"], first["name"]
    check_work_dir_layout((f["name"] for f in files), entry or lang.main)
    limit = current_app.config["MAX_CODE_BYTES"]
    if len(code.encode()) + sum(len(f["content"].encode()) for f in files) > limit:
        raise Problem(413, "code_too_large", f"submission {sub['id']!r} is larger than {limit} bytes",
                      submission=sub["id"])
    return dict(position=position, ref=sub["id"], code=code, entry_name=entry, files=files,
                status="queued", attempts=0, compiles=0, score=0.0)


def submit(user: User, data: dict) -> Batch:
    batch, _ = submit_once(user, data, None)
    return batch


def submit_once(user: User, data: dict, claim: idempotency.Claim | None) -> tuple[Batch, bool]:
    """(the batch, whether it is a replay): with a claim, the key's first request creates the batch
    and a repeat answers with it (idempotency.Claim.once)."""
    if claim is None:
        batch, rows = _accept(user, data, None)
    else:
        (batch, rows), replayed = claim.once(lambda: _accept(user, data, claim),
                                             lambda prior: (get_owned(user, str(prior.batch_id)), []))
        if replayed:
            return batch, True
    try:  # many short transactions: other users' writes never wait long behind this batch
        submission_ids = batch_rows.insert_submissions(batch.id, rows)
        ready = _ready(batch)
        db.session.commit()  # complete and visible before the fan-out: workers must find the rows
    except Exception:
        db.session.rollback()
        _discard(batch)  # its key's row goes with it
        raise
    if not ready:
        _discard(batch)
        raise Problem(503, "batch_expired", "the batch took too long to store and its reservation lapsed; "
                      "retry later")
    db.session.refresh(batch)
    try:
        _fan_out(batch, submission_ids)
    except Problem:
        if claim is not None:
            claim.release()  # the batch was cancelled unsent: a retry with the key creates it anew
        raise
    return batch, False


def _accept(user: User, data: dict, claim: idempotency.Claim | None) -> tuple[Batch, list[dict]]:
    """The checked batch, reserved and `creating`, and its submissions' rows (not yet written)."""
    lang = resolve_language(data["language"])
    tests = _resolved_tests(user, data, lang)
    rows = [_submission_row(i, sub, lang) for i, sub in enumerate(data["submissions"])]
    if not is_live(lang.id, kind="batch_languages"):
        raise Problem(503, "no_worker", f"no worker grades {lang.id} batches right now; retry later",
                      language=lang.id)
    return _reserve(user, lang, data, tests, len(rows) * len(tests), claim), rows


def _reserve(user: User, lang: Language, data: dict, tests: list[dict], total: int,
             claim: idempotency.Claim | None) -> Batch:
    """The batch's row, `creating`: its runs are reserved from now on (atomic per user), but nothing
    grades it before all its rows are written. The key's row, if any, commits with it."""
    reserve_batch(user, total)
    batch = Batch(user_id=user.id, language=lang.id, status=BATCH_CREATING, compare=data["compare"],
                  abs_tol=data["abs_tol"], rel_tol=data["rel_tol"], tests=tests, total=total, done=0, cancelled=0)
    db.session.add(batch)
    if claim is not None:
        claim.record(batch=batch)
    db.session.commit()
    return batch


def _ready(batch: Batch) -> bool:
    """`creating` -> `queued`, unless its reservation lapsed meanwhile (quotas no longer count it,
    and recovery removes it): taking it up again could exceed the quota."""
    return rows_changed(sa.update(Batch).where(
        Batch.id == batch.id, Batch.status == BATCH_CREATING, Batch.created_at >= utcnow() - CREATING_STALE_AFTER,
    ).values(status="queued").execution_options(synchronize_session=False)) == 1  # refreshed after


def _discard(batch: Batch) -> None:
    """A batch that could not be written whole is removed (its reservation with it)."""
    try:
        batch_rows.delete(batch.id)
    except Exception:  # the database is away: quotas ignore a `creating` batch once it is stale
        log.exception("could not remove the unfinished batch %s", batch.id)


def _fan_out(batch: Batch, submission_ids: list[int]) -> None:
    grade = bound(grade_submission)
    signatures = [grade.signature(args=[sid], kwargs={"language": batch.language})
                  for sid in submission_ids]
    try:
        group(signatures).apply_async()
    except Exception as exc:  # what was sent finds its cases cancelled and does nothing
        _cancel(batch, "could not enqueue: broker unavailable")
        raise Problem(503, "broker_unavailable", "the queue broker is unavailable; retry later",
                      batch_id=batch.id) from exc


def get_owned(user: User, batch_id: str) -> Batch:
    row = db.session.get(Batch, batch_id) if is_row_id(batch_id) else None
    if row is None or row.user_id != user.id:
        raise Problem(404, "batch_not_found", f"no batch {batch_id!r}")
    return row


def cancel(user: User, batch_id: str) -> Batch:
    batch = get_owned(user, batch_id)
    if batch.status == "done":
        raise Problem(409, "batch_finished", f"batch {batch_id!r} has already finished", batch_id=batch_id)
    if batch.status == BATCH_CREATING:
        raise Problem(409, "batch_not_ready", f"batch {batch_id!r} is still being created; retry in a moment",
                      batch_id=batch_id)
    _cancel(batch, None)  # again on a cancelled batch: finishes a cancel cut short
    return batch


def _cancel(batch: Batch, message: str | None) -> None:
    """No case starts from now on; cases not started end `cancelled` (not billed, given back to the
    quota); a case running now is stopped at once and billed for what it used (tasks/batch_stop.py)."""
    db.session.execute(sa.update(Batch).where(Batch.id == batch.id, Batch.status.in_(BATCH_ACTIVE)).values(
        status="cancelled", finished_at=utcnow()))
    db.session.commit()
    _stop_running(batch.id)
    batch_rows.cancel_unrun(batch.id, len(batch.tests), message)
    db.session.refresh(batch)


def _stop_running(batch_id: str) -> None:
    try:
        request_stop(current_app.extensions["redis"], batch_id)
    except redis.RedisError as exc:  # a test running now then finishes, and is billed, as usual
        log.warning("batch %s: could not ask its workers to stop the running tests: %s", batch_id, exc)
