"""POST /codestudio/run and the executions it creates."""
from __future__ import annotations

from flask import g, url_for

from ..schemas.runs import (
    ExecutionPageSchema,
    ExecutionSchema,
    PageArgsSchema,
    RunRequestSchema,
)
from ..services import idempotency, runs
from ..services.idempotency import Scope
from . import Blueprint, authenticate_and_check_body, idempotency_doc, run_events

bp = Blueprint("runs", __name__, url_prefix="/codestudio", description="Run code")


def _accepted(row, headers):
    return row, 202, {"Location": url_for("runs.execution", execution_id=row.id), **headers}


bp.before_request(authenticate_and_check_body)


@bp.route("/run", methods=["POST"])
@bp.arguments(RunRequestSchema)
@bp.doc(parameters=[idempotency_doc.KEY_PARAMETER])
@bp.response(200, ExecutionSchema, headers=idempotency_doc.REPLAYED_RESPONSE_HEADER)
@bp.alt_response(202, schema=ExecutionSchema, description="Accepted; poll the Location",
                 headers=idempotency_doc.REPLAYED_RESPONSE_HEADER)
@bp.alt_response(401, response="UNAUTHORIZED")
@bp.alt_response(413, response="REQUEST_ENTITY_TOO_LARGE")
@bp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE")
@bp.alt_response(503, response="SERVICE_UNAVAILABLE")
def run(data):
    """Run a program; with wait (default) the response carries the result. With `Accept:
    text/event-stream` the run streams as Server-Sent Events (see the description above). With an
    `Idempotency-Key` a retry answers with the first request's execution (no second run)."""
    key = idempotency.header_key()
    if run_events.wants_event_stream():
        return run_events.stream(g.user, data, idempotency.claim(g.user.id, key, Scope.RUN_STREAM, data))
    row, replayed = runs.submit_once(g.user, data, idempotency.claim(g.user.id, key, Scope.RUN, data))
    headers = idempotency.REPLAYED if replayed else {}
    if data.wait and not (replayed and runs.is_final(row)):  # a new run is not final yet: no read to know it
        row = runs.wait_for(row, runs.wait_seconds(row))
    if not data.wait or not runs.is_final(row):
        return _accepted(row, headers)
    return row, 200, headers


@bp.route("/executions/<execution_id>", endpoint="execution")
@bp.response(200, ExecutionSchema)
@bp.alt_response(401, response="UNAUTHORIZED")
@bp.alt_response(404, response="NOT_FOUND")
def get_execution(execution_id):
    """One of the caller's executions."""
    return runs.get_owned(g.user, execution_id)


@bp.route("/executions")
@bp.arguments(PageArgsSchema, location="query")
@bp.response(200, ExecutionPageSchema)
@bp.alt_response(401, response="UNAUTHORIZED")
def list_executions(args):
    """The caller's executions, newest first (cursor pagination)."""
    rows, next_cursor = runs.page(g.user, args["limit"], args["cursor"], args["status"], args["language"])
    return {"items": rows, "next_cursor": next_cursor}
