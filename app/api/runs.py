"""POST /codestudio/run and the executions it creates."""
from __future__ import annotations

from flask import g, url_for

from ..schemas.runs import (
    ExecutionPageSchema,
    ExecutionSchema,
    PageArgsSchema,
    RunRequestSchema,
)
from ..services import runs
from . import Blueprint, authenticate_and_check_body, run_events

bp = Blueprint("runs", __name__, url_prefix="/codestudio", description="Run code")


def _accepted(row):
    return row, 202, {"Location": url_for("runs.execution", execution_id=row.id)}


bp.before_request(authenticate_and_check_body)


@bp.route("/run", methods=["POST"])
@bp.arguments(RunRequestSchema)
@bp.response(200, ExecutionSchema)
@bp.alt_response(202, schema=ExecutionSchema, description="Accepted; poll the Location")
@bp.alt_response(401, response="UNAUTHORIZED")
@bp.alt_response(413, response="REQUEST_ENTITY_TOO_LARGE")
@bp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE")
@bp.alt_response(503, response="SERVICE_UNAVAILABLE")
def run(data):
    """Run a program; with wait (default) the response carries the result. With `Accept:
    text/event-stream` the run streams as Server-Sent Events (see the description above)."""
    if run_events.wants_event_stream():
        return run_events.stream(g.user, data)
    row = runs.submit(g.user, data)
    if not data.wait:
        return _accepted(row)
    row = runs.wait_for(row, runs.wait_seconds(row))
    if not runs.is_final(row):
        return _accepted(row)
    return row


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
