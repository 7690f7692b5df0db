"""The client's one implementation, free of I/O: every call is a generator that yields effects
(send this request, sleep this long) and receives their outcomes. `Client` performs the effects with
blocking calls, `AsyncClient` with awaits; the requests, retries, polling and parsing are written once."""
from __future__ import annotations

import os
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from .errors import CodeStudioError, TransportError, api_error
from .retry import Retry, RetryPolicy

DEFAULT_URL = "http://127.0.0.1:8000"
API_PREFIX = "/codestudio"
URL_ENV, KEY_ENV = "CODESTUDIO_URL", "CODESTUDIO_API_KEY"
# a run with wait answers within the server's wait cap (60 s by default): reads may take that long
DEFAULT_TIMEOUT = httpx.Timeout(120.0, connect=10.0)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})

T = TypeVar("T")


@dataclass(frozen=True)
class Send:
    request: httpx.Request


@dataclass(frozen=True)
class Sleep:
    seconds: float


Effect = Send | Sleep
Outcome = httpx.Response | httpx.TransportError | None
# a call: yields effects, is sent each one's outcome, returns its result
Op = Generator[Effect, Outcome, T]


def resolve_url(url: str | None) -> str:
    return (url or os.environ.get(URL_ENV) or DEFAULT_URL).rstrip("/")


def resolve_key(key: str | None) -> str | None:
    return key or os.environ.get(KEY_ENV) or None


def error_of(response: httpx.Response) -> CodeStudioError:
    """The exception for an error answer: its problem document, else its text as the detail."""
    try:
        body = response.json()
    except ValueError:
        body = None
    problem = body if isinstance(body, dict) else {"detail": response.text[:200]}
    return api_error(response.status_code, response.reason_phrase, problem, response.headers.get("Retry-After"))


def _failure(outcome: Outcome, url: str) -> CodeStudioError | None:
    if isinstance(outcome, httpx.Response):
        return error_of(outcome) if outcome.status_code >= 400 else None
    return TransportError(f"cannot reach {url}: {outcome!r}")


class Core:
    """Where the API is, who calls it and how failed requests are retried."""

    def __init__(self, url: str | None, key: str | None, retry: RetryPolicy,
                 headers: Mapping[str, str] | None = None):
        self.url = resolve_url(url)
        self.base = self.url + API_PREFIX
        self.key = resolve_key(key)
        self.retry = retry
        self.extra_headers = dict(headers or {})

    def headers(self, idempotency_key: str | None) -> dict[str, str]:
        headers = {"Accept": "application/json", **self.extra_headers}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return headers

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: object = None,
                idempotency_key: str | None = None) -> Op[httpx.Response]:
        """One call under /codestudio, retried as the policy says; an error answer raises an ApiError.
        Every attempt carries the same Idempotency-Key, so the server runs the call once at most."""
        url = self.base + path
        query = {k: v for k, v in (params or {}).items() if v is not None}
        idempotent = method in SAFE_METHODS or idempotency_key is not None
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            request = httpx.Request(method, url, params=query, json=json, headers=self.headers(idempotency_key))
            outcome = yield Send(request)
            error = _failure(outcome, url)
            if error is None and isinstance(outcome, httpx.Response):
                return outcome
            assert error is not None
            delay = self.retry.delay(attempt, error, idempotent=idempotent, elapsed=time.monotonic() - started)
            if delay is None:
                raise error
            if self.retry.on_retry is not None:
                self.retry.on_retry(Retry(attempt, delay, error))
            yield Sleep(delay)

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Op[Any]:
        response = yield from self.request("GET", path, params=params)
        return response.json()

    def send_json(self, method: str, path: str, body: object, idempotency_key: str | None = None) -> Op[Any]:
        response = yield from self.request(method, path, json=body, idempotency_key=idempotency_key)
        return response.json()
