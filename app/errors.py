"""RFC 9457 problem details: every error is application/problem+json with a stable code."""
from __future__ import annotations

import logging

import redis
from flask import Flask, jsonify, request
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from sandbox import ExecutionStatus

log = logging.getLogger(__name__)

PROBLEM_TYPE = "urn:codestudio:problem:"
# a 500 shares its code with the status of a run that failed on our side
STATUS_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
    415: "unsupported_media_type", 422: "validation_error", 429: "rate_limited",
    500: ExecutionStatus.INTERNAL_ERROR.value, 503: "service_unavailable",
}


class Problem(Exception):
    def __init__(self, status: int, code: str, detail: str, title: str | None = None, headers=None, **extra):
        super().__init__(detail)
        self.status, self.code, self.detail, self.extra = status, code, detail, extra
        self.headers = headers or {}
        self.title = title or code.replace("_", " ").capitalize()


def problem_response(status: int, code: str, detail: str, title: str | None = None, headers=None, **extra):
    body = {
        "type": PROBLEM_TYPE + code, "title": title or code.replace("_", " ").capitalize(),
        "status": status, "code": code, "detail": detail, "instance": request.path, **extra,
    }
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _http_error(exc: HTTPException):
    if exc.response is not None:  # prepared by whoever raised it (flask-limiter's on_breach)
        return exc.response
    data = getattr(exc, "data", None) or {}
    status = exc.code or 500
    code = data.get("code") or STATUS_CODES.get(status, "http_error")
    detail = data.get("message") or exc.description or ""
    messages, extra = data.get("messages"), {}
    if status == 400 and messages:  # webargs: body is not JSON / not UTF-8
        code, detail = "malformed_json", "the request body is not valid JSON (UTF-8)"
    elif status == 422 and messages:  # marshmallow validation, by location
        extra["errors"] = messages.get("json") or messages.get("query") or messages
        detail = "the request failed validation; see errors"
    return problem_response(status, code, detail, **extra)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(
        Problem, lambda e: problem_response(e.status, e.code, e.detail, e.title, headers=e.headers, **e.extra))
    app.register_error_handler(HTTPException, _http_error)

    @app.errorhandler(DataError)
    def value_refused_by_database(exc):
        # a value validation let through (the database said so, it is not down): the client's input
        log.warning("value refused by the database: %s", exc)
        return problem_response(400, "invalid_value", "a value in the request cannot be stored or looked up")

    @app.errorhandler(OperationalError)
    @app.errorhandler(DBAPIError)
    def database_down(exc):
        log.error("database unavailable: %s", exc)
        return problem_response(503, "database_unavailable", "the database is unavailable; retry later",
                                headers={"Retry-After": "5"})

    @app.errorhandler(redis.exceptions.ConnectionError)
    @app.errorhandler(redis.exceptions.TimeoutError)
    @app.errorhandler(BrokerError)
    def broker_down(exc):
        log.error("broker unavailable: %s", exc)
        return problem_response(503, "broker_unavailable", "the queue broker is unavailable; retry later",
                                headers={"Retry-After": "5"})

    @app.errorhandler(Exception)
    def unexpected(exc):
        log.exception("unhandled error")
        return problem_response(500, STATUS_CODES[500], "an unexpected error occurred")
