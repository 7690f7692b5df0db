"""Compatibility APIs: other services' wire formats on top of our runs (auth, quotas, billing, sandbox)."""
from __future__ import annotations

from flask import Blueprint, jsonify
from werkzeug.exceptions import HTTPException

from ..errors import Problem


def foreign_errors(bp: Blueprint, key: str) -> None:
    """Our refusals (auth, quotas, limits, no worker) in the foreign API's error shape `{key: text}`,
    with our status and stable `code`."""

    @bp.errorhandler(Problem)
    def problem(exc: Problem):
        return jsonify({key: exc.detail, "code": exc.code}), exc.status, exc.headers

    @bp.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.response is not None:  # a rate-limit refusal carries its own response
            return exc.response
        return jsonify({key: exc.description}), exc.code
