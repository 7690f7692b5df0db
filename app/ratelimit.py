"""Per-caller rate limits (flask-limiter on Redis): the limit is the caller's tier's
requests_per_minute, keyed by API key, with X-RateLimit-* and Retry-After headers."""
from __future__ import annotations

from flask import Flask, g, request
from flask_limiter import Limiter

from .auth import current_user, presented_key
from .services.tiers import tier_of


def caller_identity() -> str:
    """Limits are per user (all of a user's keys share them); only authenticated routes are limited."""
    if presented_key():
        if g.get("user") is None:
            g.user = current_user()
        return f"user:{g.user.id}"
    return "ip:" + (request.remote_addr or "unknown")


# unbound like the other extensions; a moving window, rate-limit headers on every response
limiter = Limiter(key_func=caller_identity, headers_enabled=True, strategy="moving-window")


def caller_rate() -> str:
    """Authenticates (once per request) to find the caller's tier."""
    if g.get("user") is None:
        g.user = current_user()
    return f"{tier_of(g.user)['requests_per_minute']}/minute"


def storage_uri(redis_url: str) -> str:
    return "redis+unix://" + redis_url[len("unix://"):] if redis_url.startswith("unix://") else redis_url


def init_rate_limits(app: Flask, blueprints) -> None:
    app.config.setdefault("RATELIMIT_STORAGE_URI", storage_uri(app.config["REDIS_URL"]))
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "codestudio:rl")
    limiter.init_app(app)
    for blueprint in blueprints:
        limiter.shared_limit(caller_rate, scope="api")(blueprint)  # one budget across the API
