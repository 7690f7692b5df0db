"""Run artifacts: one file a run wrote under /work/out/, served to its owner only.

A run's files are the program's, so they are served as untrusted content: as attachments unless
they are of a few passive types, never sniffed, and under a CSP sandbox that gives a rendered
document no script, no origin and nothing to load."""
from __future__ import annotations

import posixpath

from flask import Response, g, send_file

from tasks.artifact_store import BlobNotFound

from ..errors import Problem
from ..models import Artifact
from ..services import artifacts
from . import Blueprint, authenticate_and_check_body

bp = Blueprint("artifacts", __name__, url_prefix="/codestudio", description="Run artifacts")
bp.before_request(authenticate_and_check_body)

# shown in the browser; every other type (HTML, SVG, XML, JavaScript, PDF, ...) is a download
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "text/plain"})
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox; default-src 'none'",
                    "Cache-Control": "private, max-age=0", "Cross-Origin-Resource-Policy": "same-origin"}


def serve(row: Artifact) -> Response:
    try:
        blob = artifacts.blobs().open(row.sha256)
    except BlobNotFound:
        raise Problem(404, "artifact_not_found", f"no artifact {row.name!r}", name=row.name) from None
    response = send_file(blob, mimetype=row.mime, as_attachment=row.mime not in INLINE_TYPES,
                         download_name=posixpath.basename(row.name), conditional=False, etag=row.sha256, max_age=0)
    response.content_length = row.size
    response.headers.update(SECURITY_HEADERS)
    return response


@bp.route("/executions/<execution_id>/artifacts/<path:name>", endpoint="execution_artifact")
@bp.response(200, content_type="application/octet-stream", description="the file; its type as its name says")
@bp.alt_response(401, response="UNAUTHORIZED")
@bp.alt_response(404, response="NOT_FOUND")
def execution_artifact(execution_id: str, name: str) -> Response:
    """A file one of the caller's executions wrote under /work/out/ (404 `artifact_not_found` for
    anyone else's)."""
    return serve(artifacts.of_execution(g.user, execution_id, name))


@bp.route("/batch/<batch_id>/cases/<int:case_id>/artifacts/<path:name>", endpoint="case_artifact")
@bp.response(200, content_type="application/octet-stream", description="the file; its type as its name says")
@bp.alt_response(401, response="UNAUTHORIZED")
@bp.alt_response(404, response="NOT_FOUND")
def case_artifact(batch_id: str, case_id: int, name: str) -> Response:
    """A file one test of one of the caller's batches wrote under /work/out/."""
    return serve(artifacts.of_case(g.user, batch_id, case_id, name))
