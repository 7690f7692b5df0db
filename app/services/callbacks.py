"""What a finished execution's callback sends (Judge0's callback_url: a PUT of the default fields in base64)."""
from __future__ import annotations

import json

from tasks.callbacks import Callback

from ..compat.judge0_view import DEFAULT_FIELDS, render
from ..extensions import db
from ..models import Judge0Submission


def callback_for(execution_id: str) -> Callback | None:
    sub = db.session.get(Judge0Submission, execution_id)
    if sub is None or not sub.callback_url:
        return None
    body = json.dumps(render(sub, DEFAULT_FIELDS, encoded=True)).encode()
    db.session.rollback()  # a read only: no transaction left open in the worker
    return Callback(sub.callback_url, body)
