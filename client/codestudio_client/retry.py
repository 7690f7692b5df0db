"""When a failed request is tried again: answers 429 and 503 (after their Retry-After, never sooner),
and, for requests that are safe to repeat, a server that could not be reached. Delays carry jitter so
that many clients refused at once do not all come back at the same instant."""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import ApiError, CodeStudioError, QuotaExceeded, TransportError

RETRIED_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class Retry:
    """One retry about to happen: after `attempt` failed with `error`, the client sleeps `delay` seconds."""
    attempt: int
    delay: float
    error: CodeStudioError


@dataclass(frozen=True)
class RetryPolicy:
    """`max_attempts` requests at most per call; a wait is never longer than `max_delay` (an answer
    asking for a longer Retry-After, such as a used-up daily quota, is raised at once); a call gives up
    once `budget` seconds have passed since its first request. Without Retry-After the delay doubles
    from `backoff`. `jitter` adds up to that fraction of the delay. `on_retry` sees every retry."""
    max_attempts: int = 5
    max_delay: float = 30.0
    budget: float = 120.0
    backoff: float = 0.5
    jitter: float = 0.2
    on_retry: Callable[[Retry], None] | None = field(default=None, compare=False)
    random: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def retryable(self, error: CodeStudioError, idempotent: bool) -> bool:
        if isinstance(error, TransportError):
            return idempotent
        return (isinstance(error, ApiError) and error.status in RETRIED_STATUSES
                and not isinstance(error, QuotaExceeded))

    def base_delay(self, attempt: int, retry_after: float | None) -> float:
        """The delay before the next attempt, before jitter: the server's Retry-After, else backoff."""
        if retry_after is not None:
            return retry_after
        return min(self.max_delay, self.backoff * 2.0 ** (attempt - 1))

    def delay(self, attempt: int, error: CodeStudioError, *, idempotent: bool, elapsed: float) -> float | None:
        """Seconds to wait before attempt `attempt + 1`, or None: raise `error`. A Retry-After is
        waited in full; jitter only ever adds to it, and never beyond max_delay."""
        if attempt >= self.max_attempts or not self.retryable(error, idempotent):
            return None
        retry_after = error.retry_after if isinstance(error, ApiError) else None
        base = self.base_delay(attempt, retry_after)
        if base > self.max_delay:
            return None
        delay = min(self.max_delay, base + base * self.jitter * self.random())
        return None if elapsed + delay > self.budget else delay


NO_RETRIES = RetryPolicy(max_attempts=1)
