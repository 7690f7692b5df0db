"""Judge0's callback_url: whether a finished execution gets one, and what it sends (a PUT of the
default fields in base64). The worker's ports (app/stores) ask these; the core run path does not
know Judge0."""
from __future__ import annotations

import json

import sqlalchemy as sa

from tasks.ports import Callback

from ..extensions import db
from ..models import Judge0Submission
from .judge0_view import DEFAULT_FIELDS, render


def callback_wanted(execution_id: sa.ColumnExpressionArgument[str]) -> sa.ColumnElement[bool]:
    """Whether the execution was submitted with a callback_url: a condition the worker's claim
    reads in its own statement."""
    return sa.exists().where(Judge0Submission.execution_id == execution_id, Judge0Submission.callback_url.isnot(None))


def callback_for(execution_id: str) -> Callback | None:
    sub = db.session.get(Judge0Submission, execution_id)
    if sub is None or not sub.callback_url:
        return None
    body = json.dumps(render(sub, DEFAULT_FIELDS, encoded=True)).encode()
    db.session.rollback()  # a read only: no transaction left open in the worker
    return Callback(sub.callback_url, body)
