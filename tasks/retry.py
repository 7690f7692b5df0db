"""Infrastructure errors (database, Redis, sandbox host) are retried with capped exponential
backoff, continuing the same attempt."""
from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import NoReturn

import redis

from sandbox import SandboxInfraError

from .celery_typing import BoundTask
from .ports import Delivery, ports

log = logging.getLogger(__name__)

# 1, 2, 4 … 60 s: about three minutes of outage before a task gives up (recovery covers longer ones)
INFRA_RETRIES = 8
BACKOFF_CAP_SECONDS = 60


def infra_errors() -> tuple[type[Exception], ...]:
    """The errors of a backend that is down (the store's, Redis, the sandbox host): retried."""
    return (*ports().unavailable, redis.exceptions.ConnectionError, SandboxInfraError)


def backoff(retries: int) -> float:
    """Jittered, so workers that failed together do not come back in step."""
    doubled: int = 2 ** retries  # typeshed: Any, as a negative exponent would give a float
    return min(BACKOFF_CAP_SECONDS, doubled) * random.uniform(0.75, 1.25)


def delivery_of(task: BoundTask, resume_attempt: int | None) -> Delivery:
    return Delivery(task_id=task.request.id, resume_attempt=resume_attempt)


def retry_infra(task: BoundTask, exc: Exception, what: str, resume_attempt: int | None,
                give_up: Callable[[str], object]) -> NoReturn:
    """Retry later as the same attempt; after the last retry end the work through `give_up`. If
    even that fails (the database is still down) the work stays active and recovery re-sends it."""
    if task.request.retries >= task.max_retries:
        log.error("%s: infrastructure error, giving up: %s", what, exc)
        try:
            give_up(f"infrastructure error: {exc}")
        except infra_errors() as again:
            log.error("%s: could not record the failure (%s); recovery will re-send it", what, again)
        raise exc
    kwargs = {**(task.request.kwargs or {}), "resume_attempt": resume_attempt}
    log.warning("%s: infrastructure error, retry %d: %s", what, task.request.retries + 1, exc)
    raise task.retry(exc=exc, countdown=backoff(task.request.retries), kwargs=kwargs)
