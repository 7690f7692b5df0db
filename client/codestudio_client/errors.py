"""What the client raises: the API's error answers (RFC 9457 problem+json) as typed exceptions, one
class per status, and TransportError when the API cannot be reached at all."""
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


class ApiError(CodeStudioError):
    """An error answer of the API. `code` is the API's stable error code (quota_exceeded,
    batch_not_found, ...), else the HTTP reason for an answer that is not a problem document."""

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
    def errors(self) -> Any:
        """A validation error's messages by field, if the problem has them."""
        return self.extra.get("errors")

    def __str__(self) -> str:
        return self.message


class BadRequest(ApiError):
    """400: malformed JSON, or a value that cannot be stored."""


class Unauthorized(ApiError):
    """401: no API key, or one that is unknown or revoked."""


class Forbidden(ApiError):
    """403."""


class NotFound(ApiError):
    """404: no such batch, execution, project or file (for this key)."""


class Conflict(ApiError):
    """409: the resource is not in a state that allows the request (a batch still being created, ...)."""


class PayloadTooLarge(ApiError):
    """413: the code, stdin, files or the whole request are over the server's limits."""


class UnsupportedMediaType(ApiError):
    """415."""


class ValidationError(ApiError):
    """422: the request failed validation; `errors` says which fields and why."""


class RateLimited(ApiError):
    """429: over a rate limit or quota; `retry_after` says when to try again, if the server knows."""


class ServerError(ApiError):
    """5xx."""


class ServiceUnavailable(ServerError):
    """503: the database, the queue broker or the workers are unavailable; retry later."""


ERRORS_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict, 413: PayloadTooLarge,
    415: UnsupportedMediaType, 422: ValidationError, 429: RateLimited, 503: ServiceUnavailable,
}


def error_class(status: int) -> type[ApiError]:
    return ERRORS_BY_STATUS.get(status) or (ServerError if status >= 500 else ApiError)


def retry_after_seconds(header: str | None) -> float | None:
    """Retry-After in seconds; the HTTP-date form is not used by the API."""
    return float(header) if header and header.isdigit() else None


def api_error(status: int, reason: str, problem: Mapping[str, Any], retry_after: str | None = None) -> ApiError:
    """The exception for an error answer with this problem document; `reason` stands in for the code
    of an answer that has none (one from a proxy, say)."""
    code, detail, title, instance = (problem.get(name) for name in ("code", "detail", "title", "instance"))
    return error_class(status)(
        status, reason if code is None else str(code), "" if detail is None else str(detail),
        title=None if title is None else str(title), instance=None if instance is None else str(instance),
        extra={k: v for k, v in problem.items() if k not in PROBLEM_MEMBERS},
        retry_after=retry_after_seconds(retry_after))
