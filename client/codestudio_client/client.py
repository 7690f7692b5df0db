"""The API over HTTP: one session with the key, every error answer raised as an ApiError."""
from __future__ import annotations

import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import requests

from .errors import RateLimited, TransportError, api_error

DEFAULT_URL = "http://127.0.0.1:8000"
API_PREFIX = "/codestudio"
# (connect, read) seconds: a batch's report may take a while to be written
DEFAULT_TIMEOUT = (10.0, 120.0)

JsonObject = dict[str, Any]


class Client:
    """A Code Studio API client for one key. `url` is the server's base URL (without /codestudio)."""

    def __init__(self, url: str = DEFAULT_URL, key: str | None = None, *,
                 timeout: float | tuple[float, float] = DEFAULT_TIMEOUT, session: requests.Session | None = None):
        self.base = url.rstrip("/") + API_PREFIX
        self.timeout = timeout
        self.session = session or requests.Session()
        if key:
            self.session.headers["Authorization"] = f"Bearer {key}"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

    def request(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
                json: object = None) -> requests.Response:
        """One request to `path` under /codestudio; an error answer is raised as an ApiError."""
        url = self.base + path
        options: dict[str, Any] = {"timeout": self.timeout}
        if params is not None:
            options["params"] = params
        if json is not None:
            options["json"] = json
        try:
            response = self.session.request(method, url, **options)
        except requests.RequestException as exc:
            raise TransportError(f"cannot reach {url}: {exc}") from None
        if response.status_code >= 400:
            raise _error(response)
        return response

    def get_json(self, path: str, params: Mapping[str, str] | None = None) -> JsonObject:
        body: JsonObject = self.request("GET", path, params=params).json()
        return body

    # batches

    def batch_url(self, batch_id: str = "") -> str:
        return f"{self.base}/batch/{batch_id}" if batch_id else f"{self.base}/batch"

    def create_batch(self, batch: Mapping[str, Any]) -> JsonObject:
        """POST a batch (language, tests, submissions, ...); answers it queued, with its id."""
        body: JsonObject = self.request("POST", "/batch", json=dict(batch)).json()
        return body

    def get_batch(self, batch_id: str, *, results: bool = True) -> JsonObject:
        """The batch; without results, only its status and progress (cheap to poll)."""
        return self.get_json(f"/batch/{batch_id}", None if results else {"results": "false"})

    def batch_progress(self, batch_id: str, *, retry_every: float = 1.0) -> JsonObject:
        """The batch without results, waiting out rate limits: Retry-After's seconds, else retry_every."""
        while True:
            try:
                return self.get_batch(batch_id, results=False)
            except RateLimited as exc:
                time.sleep(exc.retry_after or retry_every)

    def batch_sheet(self, batch_id: str) -> JsonObject:
        """The JSON grade sheet, its rows gathered page by page."""
        sheet: JsonObject | None = None
        params: dict[str, str] = {"format": "json"}
        while True:
            page = self.get_json(f"/batch/{batch_id}/report.csv", dict(params))
            cursor = page.pop("next_cursor", None)
            sheet = page if sheet is None else {**sheet, "rows": sheet["rows"] + page["rows"]}
            if not cursor:
                return sheet
            params["cursor"] = cursor

    def batch_report_csv(self, batch_id: str) -> bytes:
        """The grade sheet as CSV, as the server writes it."""
        return self.request("GET", f"/batch/{batch_id}/report.csv", params={"format": "csv"}).content


def _error(response: requests.Response) -> Exception:
    try:
        body = response.json()
    except ValueError:
        body = None
    problem = body if isinstance(body, dict) else {"detail": response.text[:200]}  # not a problem document
    return api_error(response.status_code, response.reason or "", problem, response.headers.get("Retry-After"))
