"""API-key authentication: `Authorization: Bearer <key>`, a bare `Authorization: <key>`, X-API-Key, or
Judge0's X-Auth-Token (also as a query parameter on the Judge0 API)."""
from __future__ import annotations

from flask import g, request

from .errors import Problem
from .services.apikeys import user_for_key


def presented_key() -> str | None:
    header = request.headers.get("Authorization", "").strip()
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    if header and not token:  # a bare key, as Piston's clients send it
        return header
    judge0 = (request.blueprint or "").startswith("judge0") and request.args.get("X-Auth-Token")
    return request.headers.get("X-API-Key") or request.headers.get("X-Auth-Token") or judge0 or None


def current_user():
    """The caller, authenticated once per request (rate limiting may ask first) and kept in g.user."""
    if g.get("user") is not None:
        return g.user
    key = presented_key()
    if not key:
        raise Problem(401, "unauthorized", "an API key is required (Authorization: Bearer <key> or X-API-Key)")
    user = user_for_key(key)
    if user is None:
        raise Problem(401, "invalid_api_key", "the API key is not valid or has been revoked")
    g.user = user
    return user
