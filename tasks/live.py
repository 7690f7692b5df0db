"""One claimed live run on the worker: the sandbox runs it in conversation with its caller over
Redis (tasks/live_relay.py), the result is recorded as any run's, then the caller's API process
is told (`finished`). A live run is never restarted: its caller saw it begin. So a redelivered one
(its worker was lost) and one that fails once claimed end internal_error, and the caller is told
(`error`) rather than left waiting."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import redis

from sandbox import ExecutionStatus, Runner, RunSpec, run_live
from sandbox.live import LiveLimits, Terminal

from .live_relay import RedisLiveSession
from .ports import ClaimedRun, ExecutionStore, LiveOptions, Outcome

log = logging.getLogger(__name__)

WORKER_LOST = "a live run is not redelivered: its worker was lost"


@dataclass(frozen=True)
class LiveWorker:
    """What running a claimed live run needs beyond the claim."""
    store: ExecutionStore
    channel: redis.Redis  # tasks.live_relay.live_redis
    runner: Callable[[], Runner]  # the worker process's one runner
    spec_for: Callable[[ClaimedRun], RunSpec]
    idle_seconds: float  # LiveLimits.idle_seconds (the worker's codestudio_live_idle_seconds)


def terminal_of(options: LiveOptions) -> Terminal | None:
    return Terminal(options.cols, options.rows) if options.tty else None


def execute_live(claim: ClaimedRun, worker: LiveWorker) -> ExecutionStatus:
    """Run, or end, a claimed live run; returns the status it ended with. Raises only when even
    ending it as failed could not be recorded (the store is down): the task's retry, or recovery,
    delivers it again, and that delivery ends it."""
    assert claim.live is not None
    if claim.attempt > 1:  # delivered again: the worker that began it died
        _end_failed(claim, worker, "worker_lost", WORKER_LOST)
        return ExecutionStatus.INTERNAL_ERROR
    try:
        session = RedisLiveSession.open(worker.channel, claim.execution_id)
    except redis.exceptions.RedisError as exc:  # no channel to the caller: nothing can run
        log.error("execution %s: live channel unavailable: %s", claim.execution_id, exc)
        worker.store.fail(claim.execution_id, f"infrastructure error: the live channel is unavailable: {exc}")
        return ExecutionStatus.INTERNAL_ERROR
    try:
        result = run_live(worker.runner(), worker.spec_for(claim), session, terminal_of(claim.live),
                          LiveLimits(idle_seconds=worker.idle_seconds))
        if session.lost is not None:  # the run ended because its channel did: not the program's doing
            raise session.lost
        worker.store.finish(claim, Outcome.single(result))
    except Exception as exc:  # a bug, a lost Redis or database, a time limit: end it, tell the caller
        log.exception("execution %s: live run failed", claim.execution_id)
        _end_failed(claim, worker, "internal_error", failure_message(exc), session)
        return ExecutionStatus.INTERNAL_ERROR
    try:
        session.finish(result.status)
    except redis.exceptions.RedisError as exc:  # recorded already: the caller's API process finds it
        log.warning("execution %s: could not tell the caller it finished: %s", claim.execution_id, exc)
    return result.status


def failure_message(exc: Exception) -> str:
    if isinstance(exc, redis.exceptions.RedisError):
        return f"infrastructure error: the live channel failed: {exc}"
    return f"internal error: {type(exc).__name__}"


def _end_failed(claim: ClaimedRun, worker: LiveWorker, code: str, message: str,
                session: RedisLiveSession | None = None) -> None:
    """Recorded first (the caller's API process reads the row when told), then told: even if
    recording fails, a caller still connected hears of it."""
    try:
        worker.store.fail(claim.execution_id, message)
    finally:
        try:
            told = session or RedisLiveSession.resume(worker.channel, claim.execution_id)
        except redis.exceptions.RedisError as exc:
            log.warning("execution %s: could not tell the caller it failed: %s", claim.execution_id, exc)
        else:
            told.fail(code, message)
