"""What the client raises: the API's error answers (RFC 9457 problem+json) as typed exceptions, chosen
by the problem's stable `code` where one class says more than its status (QuotaExceeded,
UnknownLanguage, ...), else by the status; TransportError when the API cannot be reached at all."""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# members of every problem document; whatever else it holds lands in ApiError.extra
PROBLEM_MEMBERS = frozenset({"type", "title", "status", "code", "detail", "instance"})


class CodeStudioError(Exception):
    """Anything the client raises."""


class TransportError(CodeStudioError):
    """The API could not be reached, or did not answer in time."""


class WaitTimeout(CodeStudioError, TimeoutError):
    """An execution or batch was not final within the time the caller allowed; it goes on running."""


class ApiError(CodeStudioError):
    """An error answer of the API. `code` is the API's stable error code (daily_quota_exceeded,
    unknown_language, ...), else the HTTP reason for an answer that is not a problem document.
    `problem` is the whole problem document."""

    def __init__(self, status: int, code: str, detail: str, *, title: str | None = None,
                 instance: str | None = None, extra: Mapping[str, Any] | None = None,
                 retry_after: float | None = None):
        self.status, self.code, self.detail = status, code, detail
        self.title, self.instance, self.retry_after = title, instance, retry_after
        self.extra: dict[str, Any] = dict(extra or {})
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """One line: status, code, detail and a validation error's `errors`."""
        text = f"{self.status} {self.code}: {self.detail or self.title}"
        return f"{text} {json.dumps(self.errors)}" if self.errors else text

    @property
    def problem(self) -> dict[str, Any]:
        members = {"status": self.status, "code": self.code, "detail": self.detail, "title": self.title,
                   "instance": self.instance}
        return {**{k: v for k, v in members.items() if v is not None}, **self.extra}

    @property
    def errors(self) -> Any:
        """A validation error's messages by field, if the problem has them."""
        return self.extra.get("errors")

    @property
    def limit(self) -> str | None:
        """The tier limit a refusal names (executions_per_day, max_timeout, ...)."""
        return _text(self.extra.get("limit"))

    @property
    def tier(self) -> str | None:
        """The caller's tier, on a refusal that names a limit."""
        return _text(self.extra.get("tier"))

    @property
    def maximum(self) -> Any:
        """What the caller's tier allows of `limit`."""
        return self.extra.get("maximum")

    @property
    def upgrade_to(self) -> str | None:
        """The smallest tier that would allow the refused request, if there is one."""
        return _text(self.extra.get("upgrade_to"))

    def __str__(self) -> str:
        return self.message


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


class BadRequest(ApiError):
    """400: malformed JSON, or a value that cannot be stored."""


class Unauthorized(ApiError):
    """401: no API key, or one that is unknown or revoked."""


class Forbidden(ApiError):
    """403."""


class NotFound(ApiError):
    """404: no such batch, execution, project or file (for this key)."""


class Conflict(ApiError):
    """409: the resource exists or is not in a state that allows the request."""


class PayloadTooLarge(ApiError):
    """413: the code, stdin, files or the whole request are over the server's limits."""


class UnsupportedMediaType(ApiError):
    """415."""


class ValidationError(ApiError):
    """422: the request failed validation; `errors` says which fields and why."""


class UnknownLanguage(ValidationError):
    """422 unknown_language: no such language id or alias; `detail` lists the known ones."""


class LimitExceeded(ValidationError):
    """422: the request asks for more than the caller's tier allows (a timeout, a batch's size, a
    project's file count); `limit`, `maximum`, `tier` and `upgrade_to` say which and what would allow it."""


class QuotaExceeded(ApiError):
    """A quota is used up: the executions of the day (429) or the storage of projects (422).
    `upgrade_to` names the tier that would allow it; `retry_after`, when the daily quota resets."""


class RateLimited(ApiError):
    """429: over the rate limit or the concurrency limit; `retry_after` says when to try again."""


class ConcurrencyLimited(RateLimited):
    """429 concurrency_limit: too many executions, live runs or batches queued or running at once."""


class ServerError(ApiError):
    """5xx."""


class ServiceUnavailable(ServerError):
    """503: the database, the queue broker or the workers are unavailable; retry later."""


ERRORS_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict, 413: PayloadTooLarge,
    415: UnsupportedMediaType, 422: ValidationError, 429: RateLimited, 503: ServiceUnavailable,
}
ERRORS_BY_CODE: dict[str, type[ApiError]] = {
    "unknown_language": UnknownLanguage, "limit_exceeded": LimitExceeded, "batch_too_large": LimitExceeded,
    "too_many_files": LimitExceeded, "daily_quota_exceeded": QuotaExceeded,
    "storage_quota_exceeded": QuotaExceeded, "concurrency_limit": ConcurrencyLimited,
}


def error_class(status: int, code: str | None = None) -> type[ApiError]:
    by_code = ERRORS_BY_CODE.get(code or "")
    if by_code is not None:
        return by_code
    return ERRORS_BY_STATUS.get(status) or (ServerError if status >= 500 else ApiError)


def retry_after_seconds(header: str | None) -> float | None:
    """Retry-After in seconds; the HTTP-date form is not used by the API."""
    try:
        seconds = float(header) if header else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 <= seconds < float("inf") else None


def api_error(status: int, reason: str, problem: Mapping[str, Any], retry_after: str | None = None) -> ApiError:
    """The exception for an error answer with this problem document; `reason` stands in for the code
    of an answer that has none (one from a proxy, say)."""
    code, detail, title, instance = (problem.get(name) for name in ("code", "detail", "title", "instance"))
    code = reason if code is None else str(code)
    return error_class(status, code)(
        status, code, "" if detail is None else str(detail),
        title=None if title is None else str(title), instance=None if instance is None else str(instance),
        extra={k: v for k, v in problem.items() if k not in PROBLEM_MEMBERS},
        retry_after=retry_after_seconds(retry_after))
