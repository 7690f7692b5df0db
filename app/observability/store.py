"""The worker's execution store, observed: binds the claimed execution to the log context and
records its metrics once it is recorded final (exactly once, as `finish` says)."""
from __future__ import annotations

import logging
import time

from sandbox import ExecutionStatus
from tasks import metrics
from tasks.metrics import Recorder, Sample
from tasks.ports import ClaimedRun, Delivery, ExecutionStore, Outcome

from . import logs

log = logging.getLogger("codestudio.executions")
MAX_HELD = 1000  # claims one process remembers the time of (a thread pool holds several at once)


class ObservedExecutionStore:
    def __init__(self, inner: ExecutionStore, recorder: Recorder):
        self.inner, self.recorder = inner, recorder
        self._claimed_at: dict[str, float] = {}  # execution id -> monotonic time of its claim (this process)

    def claim(self, execution_id: str, worker: str, delivery: Delivery) -> ClaimedRun | None:
        logs.bind(None)
        claim = self.inner.claim(execution_id, worker, delivery)
        if claim is None:
            return None
        if len(self._claimed_at) > MAX_HELD:  # claims whose task died before finishing
            self._claimed_at.clear()
        self._claimed_at[execution_id] = time.monotonic()
        logs.bind(logs.ExecutionContext(execution_id, claim.user_id, claim.language, ExecutionStatus.RUNNING))
        log.info("execution claimed", extra={"attempt": claim.attempt, "worker": worker,
                                             "live": claim.live is not None})
        samples = [Sample(metrics.LIVE_RUNS, (claim.language,), 1)] if claim.live is not None else []
        if claim.attempt == 1 and claim.queue_seconds is not None:
            samples.append(Sample(metrics.QUEUE_WAIT, (claim.language,), claim.queue_seconds))
        self.recorder.record(*samples)
        return claim

    def finish(self, claim: ClaimedRun, outcome: Outcome) -> bool:
        recorded = self.inner.finish(claim, outcome)
        if not recorded:
            return False
        result, language = outcome.result, claim.language
        logs.set_status(result.status)
        log.info("execution finished", extra={"wall_seconds": outcome.wall_seconds, "cpu_seconds": outcome.cpu_seconds,
                                              "memory_kb": result.memory_kb, "runs": outcome.runs})
        samples = [Sample(metrics.EXECUTIONS, (language, str(result.status)), 1)]
        if outcome.runs:
            samples += [Sample(metrics.RUN, (language,), result.wall_time),
                        Sample(metrics.MEMORY, (language,), result.memory_kb * 1024)]
        if result.compile_wall_time:
            samples.append(Sample(metrics.COMPILE, (language,), result.compile_wall_time))
        started = self._claimed_at.pop(claim.execution_id, None)
        if started is not None and claim.live is None:  # a live run's time is its caller's conversation
            overhead = time.monotonic() - started - _program_seconds(claim, outcome)
            samples.append(Sample(metrics.SETUP, (language,), max(0.0, overhead)))
        self.recorder.record(*samples)
        return True

    def fail(self, execution_id: str, message: str) -> None:
        self.inner.fail(execution_id, message)
        context = logs.bound()
        logs.set_status(ExecutionStatus.INTERNAL_ERROR)
        log.error("execution failed: %s", message)
        # counted only when this process held it: fail() on a final execution changes nothing
        held = context is not None and context.execution_id == execution_id and execution_id in self._claimed_at
        self._claimed_at.pop(execution_id, None)
        if context is not None and held:
            self.recorder.record(Sample(metrics.EXECUTIONS, (context.language, ExecutionStatus.INTERNAL_ERROR), 1))


def _program_seconds(claim: ClaimedRun, outcome: Outcome) -> float:
    """The wall time the program's stages took: a repeated run's usage counts its one compile
    already; a single run's counts the run alone."""
    if claim.runs > 1:
        return outcome.wall_seconds
    return outcome.wall_seconds + outcome.result.compile_wall_time

