"""Batch grading calls (see _core): submit many submissions against many tests, follow the progress,
fetch the grade sheet."""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from ._core import Op, Sleep
from .calls import Calls, run_body
from .errors import WaitTimeout
from .models import Batch, BatchProgress, JsonObject

ProgressCallback = Callable[[BatchProgress], object]


class BatchCalls(Calls):
    def submit_batch(self, language: str, tests: Sequence[Mapping[str, Any]],
                     submissions: Sequence[Mapping[str, Any]], *, compare: str | None = None,
                     abs_tol: float | None = None, rel_tol: float | None = None,
                     limits: Mapping[str, Any] | None = None, idempotency_key: str | None = None) -> Op[Batch]:
        """Grade every submission ({id, code} or {id, files}) against every test ({name, stdin,
        expected_output, points}); answers the batch queued."""
        body = run_body({"language": language, "tests": [dict(t) for t in tests],
                         "submissions": [dict(s) for s in submissions], "compare": compare, "abs_tol": abs_tol,
                         "rel_tol": rel_tol, "limits": dict(limits) if limits else None})
        data = yield from self.send_json("POST", "/batch", body, idempotency_key=idempotency_key or str(uuid.uuid4()))
        return Batch.from_json(data)

    def get_batch(self, batch_id: str, *, results: bool = False) -> Op[Batch]:
        """The batch's status and progress; with results, also its first page of submissions (in raw)."""
        data = yield from self.get_json(f"/batch/{quote(batch_id, safe='')}", None if results else {"results": "false"})
        return Batch.from_json(data)

    def wait_batch(self, batch_id: str, *, on_progress: ProgressCallback | None = None, poll: float = 1.0,
                   timeout: float | None = None) -> Op[Batch]:
        """Poll every `poll` seconds until the batch is done or cancelled; `on_progress` gets the
        progress each time it changes (and once at the start)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        shown: BatchProgress | None = None
        while True:
            batch = yield from self.get_batch(batch_id)
            if on_progress is not None and batch.progress != shown:
                on_progress(batch.progress)
                shown = batch.progress
            if batch.final:
                return batch
            if deadline is not None and time.monotonic() + poll > deadline:
                raise WaitTimeout(f"batch {batch_id} is still {batch.status} after {timeout} s")
            yield Sleep(poll)

    def cancel_batch(self, batch_id: str) -> Op[Batch]:
        response = yield from self.request("DELETE", f"/batch/{quote(batch_id, safe='')}")
        return Batch.from_json(response.json())

    def batch_report(self, batch_id: str) -> Op[JsonObject]:
        """The JSON grade sheet (status, tests, max_score, one row per submission), every page gathered."""
        sheet: JsonObject | None = None
        cursor = None
        while True:
            page = yield from self.get_json(f"/batch/{quote(batch_id, safe='')}/report.csv",
                                            {"format": "json", "cursor": cursor})
            cursor = page.pop("next_cursor", None)
            sheet = page if sheet is None else {**sheet, "rows": sheet["rows"] + page["rows"]}
            if not cursor:
                return sheet

    def batch_report_csv(self, batch_id: str) -> Op[bytes]:
        """The grade sheet as CSV, as the server writes it."""
        response = yield from self.request("GET", f"/batch/{quote(batch_id, safe='')}/report.csv",
                                           params={"format": "csv"})
        return response.content
