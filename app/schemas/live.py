"""The `start` frame of a live run (GET /codestudio/live): the fields of POST /codestudio/run plus
how the program talks to its caller (pipes, or a terminal of cols x rows)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from marshmallow import fields, post_load, validate

from tasks.ports import LiveOptions

from ..services.live_frames import MAX_TERMINAL_SIDE
from ..services.run_request import RunRequest
from .runs import RunRequestSchema


def terminal_side(default: int) -> fields.Integer:
    return fields.Integer(load_default=default, strict=True,
                          validate=validate.Range(min=1, max=MAX_TERMINAL_SIDE))


@dataclass(frozen=True)
class LiveStart:
    request: RunRequest
    idempotency_key: str | None  # as sent; checked by app/services/idempotency.py (its own 422 code)


class LiveStartSchema(RunRequestSchema):
    """`stdin` is sent to the program as its first input; `wait` is ignored (a live run streams)."""
    tty = fields.Boolean(load_default=False, metadata={
        "description": "terminal mode: the program's stdin, stdout and stderr are one pseudo-terminal"})
    cols = terminal_side(80)
    rows = terminal_side(24)
    idempotency_key = fields.String(load_default=None, metadata={
        "description": "as the Idempotency-Key header (which the upgrade request may carry instead)"})

    @post_load
    def _request(self, data: dict[str, Any], **kwargs: Any) -> LiveStart:
        key = data.pop("idempotency_key")
        request = super()._request(data, **kwargs)
        live = LiveOptions(tty=data["tty"], cols=data["cols"], rows=data["rows"])
        return LiveStart(replace(request, wait=False, live=live), key)
