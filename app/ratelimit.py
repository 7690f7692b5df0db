"""Per-caller rate limits (flask-limiter on Redis): the limit is the caller's tier's
requests_per_minute, one budget per user across the API, with X-RateLimit-* and Retry-After headers.
Requests without a valid key share one budget per address (ANONYMOUS_REQUESTS_PER_MINUTE)."""
from __future__ import annotations

from flask import Flask, Response, current_app, g, request
from flask_limiter import Limiter
from limits import parse as parse_rate

from .auth import current_user, presented_key
from .errors import problem_response
from .services.tiers import refuse, tier_of


def authenticated_caller():
    """The caller, or None when authentication fails. flask-limiter takes any error raised while it
    asks for a key or a limit for a storage outage and falls back to per-process counters for
    everyone; a missing or bad key (or a database error) is the view's to answer (401, 503)."""
    if not presented_key() or g.get("caller_unknown"):
        return None
    try:
        return current_user()
    except Exception:  # noqa: BLE001 - whatever failed, the view authenticates again and answers it
        g.caller_unknown = True  # the limiter asks up to three times a request: look the key up once
        return None


def caller_identity() -> str:
    """Limits are per user (all of a user's keys share them); without a valid key, per address."""
    user = authenticated_caller()
    return f"user:{user.id}" if user is not None else "address:" + (request.remote_addr or "unknown")


# unbound like the other extensions; a moving window, rate-limit headers on every response
limiter = Limiter(key_func=caller_identity, headers_enabled=True, strategy="moving-window",
                  on_breach=lambda limit: rate_limited(limit))


API_SCOPE = "api"  # the shared limit's scope: one bucket per caller for every blueprint


def caller_rate() -> str:
    user = authenticated_caller()
    if user is None:
        return f"{current_app.config['ANONYMOUS_REQUESTS_PER_MINUTE']}/minute"
    return f"{tier_of(user)['requests_per_minute']}/minute"


def rate_limited(limit) -> Response:
    """A breach answers like every other refusal: the limit, the tier, the next tier up."""
    user = authenticated_caller()
    if user is None:
        return problem_response(429, "rate_limited", f"rate limit {limit.limit} reached for requests "
                                "without a valid API key from this address", limit="requests_per_minute")
    allowed = tier_of(user)["requests_per_minute"]
    problem = refuse(429, "rate_limited", user, "requests_per_minute", allowed + 1, f"rate limit {limit.limit} reached")
    return problem_response(problem.status, problem.code, problem.detail, **problem.extra)


def count_request(user) -> None:
    """Count one request against the user's budget, for a caller the limiter could not know when
    the request came (a live run's key arrives in its first frame): raises the 429 Problem a
    limited request gets. The same bucket as the limiter's own (prefix, user, shared scope)."""
    allowed = tier_of(user)["requests_per_minute"]
    bucket = (current_app.config["RATELIMIT_KEY_PREFIX"], f"user:{user.id}", API_SCOPE)
    try:
        within = limiter.limiter.hit(parse_rate(f"{allowed}/minute"), *bucket)
    except Exception:  # noqa: BLE001 - storage down: not counted, as the limiter's fallback would forget it
        current_app.logger.warning("rate limit storage unavailable: a request of user %s not counted", user.id)
        return
    if not within:
        raise refuse(429, "rate_limited", user, "requests_per_minute", allowed + 1,
                     f"rate limit {allowed} per 1 minute reached")


def _remember_retry_after(response: Response) -> Response:
    """Before the limiter's headers: the Retry-After the answer itself set (a refusal's own)."""
    g.own_retry_after = response.headers.get("Retry-After")
    return response


def _own_retry_after(response: Response) -> Response:
    """After the limiter's headers: the limiter sets Retry-After on every answer it counts, to its
    window's reset (up to a minute). A refusal keeps its own (a concurrency 429 asks for 1 s), a
    request the limiter refused keeps the limiter's, and an answer that refuses nothing has none."""
    own = g.pop("own_retry_after", None)
    if own is not None:
        response.headers["Retry-After"] = own
    elif response.status_code not in (429, 503):
        response.headers.pop("Retry-After", None)
    return response


def storage_uri(redis_url: str) -> str:
    return "redis+unix://" + redis_url[len("unix://"):] if redis_url.startswith("unix://") else redis_url


def init_rate_limits(app: Flask, blueprints) -> None:
    app.config.setdefault("RATELIMIT_STORAGE_URI", storage_uri(app.config["REDIS_URL"]))
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "codestudio:rl")
    app.config.setdefault("ANONYMOUS_REQUESTS_PER_MINUTE", 120)
    # Redis down: the same limits per process in memory (back on Redis once it answers), so
    # a broker outage stops runs (503) but not reads, and never fails a request half-answered
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    # after-request hooks run last-registered first: one on each side of the limiter's header hook
    app.after_request(_own_retry_after)
    limiter.init_app(app)
    app.after_request(_remember_retry_after)
    for blueprint in blueprints:
        limiter.shared_limit(caller_rate, scope=API_SCOPE)(blueprint)  # one budget across the API
