"""Judge0 CE 1.13.1-compatible API, mounted at /judge0 (and at / with JUDGE0_AT_ROOT).

`X-Auth-Token` (header or query parameter) carries one of our API keys, so submissions are
isolated, rate-limited and billed per user; Bearer and X-API-Key work too. Submissions are our
executions (the token is the execution id), run by the same workers and sandbox."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, jsonify, request

from sandbox import ACTIVE_STATUSES

from ..auth import current_user
from ..errors import Problem
from ..extensions import db
from ..jsonbody import request_json
from ..models import Execution, Judge0Submission, is_row_id
from ..ratelimit import caller_rate, limiter
from ..services import runs
from ..services.run_request import PreparedRun
from . import foreign_errors
from .judge0_submit import FieldErrors, parse
from .judge0_view import execution_id, parse_fields, render, token

bp = Blueprint("judge0", __name__)
MAX_BATCH = 20
MAX_PAGE, MAX_PER_PAGE = 1_000_000, 100
# a batch item refused by the run checks, under the Judge0 field it is about ("base": the item)
ITEM_FIELDS = {"code_too_large": "source_code", "stdin_too_large": "stdin", "files_too_large": "additional_files",
               "invalid_file_name": "additional_files"}
limited = limiter.shared_limit(caller_rate, scope="api")  # the caller's one budget across the API


class Judge0Error(Exception):
    def __init__(self, status: int, body: dict):
        super().__init__(body)
        self.status, self.body = status, body


@bp.errorhandler(Judge0Error)
def judge0_error(exc: Judge0Error):
    return jsonify(exc.body), exc.status


@bp.errorhandler(FieldErrors)
def field_errors(exc: FieldErrors):
    return jsonify(exc.errors), 422


foreign_errors(bp, "error")


def _flag(name: str) -> bool:
    return request.args.get(name, "false").lower() == "true"


def _fields() -> tuple[str, ...]:
    try:
        return parse_fields(request.args.get("fields"))
    except ValueError as exc:
        raise Judge0Error(400, {"error": str(exc)}) from None


def _body():
    try:
        return request_json()
    except ValueError as exc:
        raise Judge0Error(400, {"error": f"request body is not valid JSON: {exc.msg}"}) from None


def _bounded(name: str, default: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value: int | None = int(raw)
    except ValueError:  # not an integer, or more digits than Python converts
        value = None
    if value is None or not 1 <= value <= high:
        raise Judge0Error(400, {"error": f"invalid {name}: {raw[:40]}; give an integer from 1 to {high}"})
    return value


def _owned(token_text: str) -> Judge0Submission:
    key = execution_id(token_text)
    found = db.session.execute(sa.select(Judge0Submission).join(Execution).where(
        Judge0Submission.execution_id == key, Execution.user_id == current_user().id)).scalar_one_or_none() \
        if is_row_id(key) else None
    if found is None:
        raise Judge0Error(404, {"error": f"submission {token_text} not found"})
    return found


def _create(body, encoded: bool) -> Judge0Submission:
    user = current_user()
    run, row = parse(body, user, encoded, wait=_flag("wait"))
    created = {}

    def attach(execution):
        created["row"] = Judge0Submission(execution=execution, **row)
        db.session.add(created["row"])
    runs.submit(user, run, attach=attach)
    return created["row"]


@bp.route("/submissions", methods=["POST"])
@limited
def create_submission():
    encoded, fields = _flag("base64_encoded"), _fields()
    sub = _create(_body(), encoded)
    if not _flag("wait"):
        return jsonify(token=render(sub, ("token",), False)["token"]), 201
    runs.wait_for(sub.execution, runs.wait_seconds(sub.execution))
    db.session.refresh(sub)
    return jsonify(render(sub, fields, encoded)), 201


@bp.route("/submissions/<token>")
@limited
def get_submission(token):
    return jsonify(render(_owned(token), _fields(), _flag("base64_encoded")))


@bp.route("/submissions")
@limited
def list_submissions():
    page, per_page = _bounded("page", 1, MAX_PAGE), _bounded("per_page", 20, MAX_PER_PAGE)
    query = sa.select(Judge0Submission).join(Execution).where(Execution.user_id == current_user().id)
    total = db.session.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    rows = db.session.execute(query.order_by(Execution.created_at.desc(), Execution.id.desc())
                              .offset((page - 1) * per_page).limit(per_page)).scalars().all()
    pages = max(1, -(-total // per_page))
    fields, encoded = _fields(), _flag("base64_encoded")
    return jsonify(submissions=[render(r, fields, encoded) for r in rows], meta={
        "current_page": page, "next_page": page + 1 if page < pages else None,
        "prev_page": page - 1 if page > 1 else None, "total_pages": pages, "total_count": total})


@bp.route("/submissions/<token>", methods=["DELETE"])
@limited
def delete_submission(token):
    """The submission leaves the Judge0 API and its code and output are erased; the execution's
    accounting (status, time, usage record) stays."""
    sub = _owned(token)
    if sub.execution.status in ACTIVE_STATUSES:
        raise Judge0Error(400, {"error": "submission cannot be deleted because it is in queue or processing"})
    answer = render(sub, _fields(), True)  # Judge0 answers a delete in base64
    row = sub.execution
    row.code, row.stdin, row.stdout, row.stderr, row.compile_output, row.files = "", b"", None, None, None, []
    db.session.delete(sub)
    db.session.commit()
    return jsonify(answer)


def _prepare(user, item, encoded: bool) -> tuple[PreparedRun, dict]:
    """(the run's Execution values, the Judge0 row's fields) of one batch item; raises
    FieldErrors with Judge0's error hash for an item that is refused."""
    run, row = parse(item, user, encoded)
    try:
        return runs.prepare(user, run), row
    except Problem as exc:
        raise FieldErrors({ITEM_FIELDS.get(exc.code, "base"): [exc.detail]}) from None


@bp.route("/submissions/batch", methods=["POST"])
@limited
def create_batch():
    """As Judge0: an answer per item, a token or the item's errors (422 when no item is valid).
    The valid items are recorded together after one quota reservation for all of them, so a
    refusal (429) leaves nothing created."""
    body = _body()
    items = body.get("submissions") if isinstance(body, dict) else None
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
        raise Judge0Error(422, {"error": f"number of submissions must be between 1 and {MAX_BATCH}"})
    user, encoded, answers, valid = current_user(), _flag("base64_encoded"), [], []
    for item in items:
        try:
            valid.append((len(answers), *_prepare(user, item, encoded)))
            answers.append(None)
        except FieldErrors as exc:
            answers.append(exc.errors)
    if not valid:
        return jsonify(answers), 422
    executions = runs.record(user, [values for _, values, _ in valid], lambda i, execution: db.session.add(
        Judge0Submission(execution=execution, **valid[i][2])))
    for (position, _, _), execution in zip(valid, executions, strict=True):
        try:
            runs.enqueue(execution)
        except Problem:  # the broker is down: the submission is recorded as failed, its token shows it
            pass
        answers[position] = {"token": token(execution.id)}
    return jsonify(answers), 201


@bp.route("/submissions/batch")
@limited
def get_batch():
    raw = request.args.get("tokens") or request.headers.get("tokens") or ""
    tokens = [t.strip() for t in raw.split(",") if t.strip()]
    if not 1 <= len(tokens) <= MAX_BATCH:
        raise Judge0Error(400, {"error": f"give between 1 and {MAX_BATCH} tokens"})
    fields, encoded, found = _fields(), _flag("base64_encoded"), []
    for token_text in tokens:
        try:
            found.append(render(_owned(token_text), fields, encoded))
        except Judge0Error:
            found.append(None)
    return jsonify(submissions=found)
