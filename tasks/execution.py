"""The one task: execute one execution id under the sandbox and record the outcome."""
from __future__ import annotations

import logging

import redis
from celery import shared_task
from sqlalchemy.exc import OperationalError

from sandbox import Runner, RunResult, RunSpec, SandboxInfraError, registry

from . import keys
from .routing import EXECUTE_TASK
from .store import ClaimedRun, execution_store

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
INFRA_ERRORS = (OperationalError, redis.exceptions.ConnectionError, SandboxInfraError)

_runner: Runner | None = None
_redis: dict[str, redis.Redis] = {}


def runner() -> Runner:
    """One runner per worker process (created after fork)."""
    global _runner
    if _runner is None:
        _runner = Runner()
    return _runner


def redis_client(url: str) -> redis.Redis:
    if url not in _redis:
        _redis[url] = redis.Redis.from_url(url, socket_timeout=5, health_check_interval=30)
    return _redis[url]


def notify_done(url: str, execution_id: str, status: str) -> None:
    """Wake the API request waiting on this execution (if any)."""
    client = redis_client(url)
    pipe = client.pipeline()
    pipe.lpush(keys.done_key(execution_id), status)
    pipe.expire(keys.done_key(execution_id), keys.DONE_TTL_SECONDS)
    pipe.execute()


def spec_for(claim: ClaimedRun) -> RunSpec:
    return RunSpec(
        language=registry().get(claim.language), code=claim.code, stdin=claim.stdin,
        args=claim.args, files=claim.files, timeout=claim.timeout, memory_mb=claim.memory_mb,
        entry=claim.entry_name,
    )


def attempts_exhausted() -> RunResult:
    return RunResult(status="internal_error", message=f"gave up after {MAX_ATTEMPTS} attempts (worker lost)")


@shared_task(bind=True, name=EXECUTE_TASK, max_retries=3, acks_late=True, reject_on_worker_lost=True)
def execute_run(self, execution_id: str, language: str | None = None) -> None:
    store = execution_store.get()
    try:
        claim = store.claim(execution_id, self.request.hostname or "unknown")
        if claim is None:
            return  # already final: a duplicate delivery
        if claim.attempt > MAX_ATTEMPTS:
            result = attempts_exhausted()
        else:
            result = runner().run(spec_for(claim))
        if store.finish(claim, result):
            notify_done(self.app.conf.codestudio_redis_url, execution_id, result.status)
    except INFRA_ERRORS as exc:
        if self.request.retries >= self.max_retries:
            log.error("execution %s: infrastructure error, giving up: %s", execution_id, exc)
            store.fail(execution_id, f"infrastructure error: {exc}")
            raise
        raise self.retry(exc=exc, countdown=2 ** self.request.retries) from exc
    except Exception as exc:  # a bug or a Celery time limit: end the run visibly, never leave it running
        log.exception("execution %s failed", execution_id)
        store.fail(execution_id, f"internal error: {type(exc).__name__}")
        raise
