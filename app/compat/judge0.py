"""Judge0 CE 1.13.1-compatible API, mounted at /judge0 (and at / with JUDGE0_AT_ROOT).

`X-Auth-Token` (header or query parameter) carries one of our API keys, so submissions are
isolated, rate-limited and billed per user; Bearer and X-API-Key work too. Submissions are our
executions (the token is the execution id), run by the same workers and sandbox."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, jsonify, request

from ..auth import current_user
from ..extensions import db
from ..models import Execution, Judge0Submission, is_row_id
from ..ratelimit import caller_rate, limiter
from ..services import runs
from . import foreign_errors
from .judge0_submit import FieldErrors, parse
from .judge0_view import execution_id, parse_fields, render

bp = Blueprint("judge0", __name__)
MAX_BATCH = 20
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
    run, row = parse(body, user, encoded)
    created = {}

    def attach(execution):
        created["row"] = Judge0Submission(execution=execution, **row)
        db.session.add(created["row"])
    run["wait"] = _flag("wait")
    runs.submit(user, run, attach=attach)
    return created["row"]


@bp.route("/submissions", methods=["POST"])
@limited
def create_submission():
    encoded, fields = _flag("base64_encoded"), _fields()
    sub = _create(request.get_json(silent=True), encoded)
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
    try:
        page, per_page = int(request.args.get("page", 1)), int(request.args.get("per_page", 20))
    except ValueError:
        raise Judge0Error(400, {"error": "page and per_page must be integers"}) from None
    page, per_page = max(1, page), min(max(1, per_page), 100)
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
    if sub.execution.status in ("queued", "running"):
        raise Judge0Error(400, {"error": "submission cannot be deleted because it is in queue or processing"})
    answer = render(sub, _fields(), True)  # Judge0 answers a delete in base64
    row = sub.execution
    row.code, row.stdin, row.stdout, row.stderr, row.compile_output, row.files = "", b"", None, None, None, []
    db.session.delete(sub)
    db.session.commit()
    return jsonify(answer)


@bp.route("/submissions/batch", methods=["POST"])
@limited
def create_batch():
    body = request.get_json(silent=True)
    items = body.get("submissions") if isinstance(body, dict) else None
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
        raise Judge0Error(422, {"error": f"number of submissions must be between 1 and {MAX_BATCH}"})
    encoded, answers = _flag("base64_encoded"), []
    for item in items:
        try:
            answers.append({"token": render(_create(item, encoded), ("token",), False)["token"]})
        except FieldErrors as exc:
            answers.append(exc.errors)
    if not any("token" in a for a in answers):
        return jsonify(answers), 422
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
