"""Batch grading: many submissions against many tests, with progress and a grade report."""
from __future__ import annotations

from flask import Response, g, url_for

from ..schemas.batch import BatchArgsSchema, BatchRequestSchema, BatchSchema, ReportArgsSchema
from ..services import batch_reports, batches, idempotency
from . import Blueprint, authenticate_and_check_body, idempotency_doc

bp = Blueprint("batch", __name__, url_prefix="/codestudio", description="Batch grading")


bp.before_request(authenticate_and_check_body)


@bp.route("/batch", methods=["POST"])
@bp.arguments(BatchRequestSchema)
@bp.doc(parameters=[idempotency_doc.KEY_PARAMETER])
@bp.response(202, BatchSchema, headers=idempotency_doc.REPLAYED_RESPONSE_HEADER)
@bp.alt_response(401, response="UNAUTHORIZED")
@bp.alt_response(413, response="REQUEST_ENTITY_TOO_LARGE")
@bp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE")
@bp.alt_response(429, response="TOO_MANY_REQUESTS")
@bp.alt_response(503, response="SERVICE_UNAVAILABLE")
def create_batch(data):
    """Grade every submission against every test: each submission is compiled once, each test
    runs in a fresh sandbox. Runs count against the daily quota up front. With an `Idempotency-Key`
    a retry answers with the first request's batch."""
    claim = idempotency.claim(g.user.id, idempotency.header_key(), idempotency.Scope.BATCH, data)
    batch, replayed = batches.submit_once(g.user, data, claim)
    return batch_reports.view(batch), 202, {"Location": url_for("batch.batch", batch_id=batch.id),
                                            **(idempotency.REPLAYED if replayed else {})}


@bp.route("/batch/<batch_id>", endpoint="batch")
@bp.arguments(BatchArgsSchema, location="query")
@bp.response(200, BatchSchema)
@bp.alt_response(401, response="UNAUTHORIZED")
@bp.alt_response(404, response="NOT_FOUND")
def get_batch(args, batch_id):
    """Status, progress, the count of each verdict and a page of submissions, each with its compile
    result and a result per test; `next_cursor` pages on (`?results=false`: status and progress only)."""
    batch = batches.get_owned(g.user, batch_id)
    page = batch_reports.Page(args["limit"], args["cursor"]) if args["results"] else None
    return batch_reports.view(batch, page)


@bp.route("/batch/<batch_id>", methods=["DELETE"])
@bp.response(200, BatchSchema)
@bp.alt_response(401, response="UNAUTHORIZED")
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
def cancel_batch(batch_id):
    """Cancel: tests not started end `cancelled` (not billed); a test running now is stopped at once
    and ends `stopped`, billed for the CPU it used. Answers status and progress; 409 `batch_not_ready`
    while the batch is still being created."""
    return batch_reports.view(batches.cancel(g.user, batch_id))


@bp.route("/batch/<batch_id>/report.csv")
@bp.route("/batch/<batch_id>/report", endpoint="report")
@bp.arguments(ReportArgsSchema, location="query")
@bp.response(200, content_type="text/csv", description="one row per submission, one column per test, the score")
@bp.alt_response(401, response="UNAUTHORIZED")
@bp.alt_response(404, response="NOT_FOUND")
def batch_report(args, batch_id):
    """The grade sheet as CSV (default: all of it) or JSON (?format=json: by pages, `next_cursor`)."""
    batch = batches.get_owned(g.user, batch_id)
    if args["format"] == "json":
        return batch_reports.report(batch, batch_reports.Page(args["limit"], args["cursor"],
                                                              batch_reports.REPORT_PAGE_CELLS))
    return Response(batch_reports.report_csv(batch), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="batch-{batch.id}.csv"'})
