"""Batch grading: one task per submission compiles it once, then runs every test still pending,
each in a fresh sandbox. Cases are recorded one by one, so a redelivered task (worker killed)
skips what is final and runs only the rest."""
from __future__ import annotations

import logging
import threading
from dataclasses import replace

from celery.exceptions import SoftTimeLimitExceeded

from sandbox import CompiledProgram, ExecutionStatus, RunSpec, registry

from .artifacts import keep
from .batch_stop import StopWatch
from .celery_typing import BoundTask, bound_task
from .execution import MAX_ATTEMPTS, redis_client, runner
from .grading import Verdict, verdict
from .ports import BatchStore, ClaimedSubmission, ports
from .retry import INFRA_RETRIES, delivery_of, infra_errors, retry_infra
from .routing import GRADE_TASK
from .tiers import compile_cap

log = logging.getLogger(__name__)

# a submission's tests run one after another in one task: these bound the whole task; the API
# refuses batches whose tests could not fit (see SUBMISSION_BUDGET_SECONDS in the service)
GRADE_TIME_LIMIT = 600
GRADE_SOFT_TIME_LIMIT = GRADE_TIME_LIMIT - 30


def compile_submission(claim: ClaimedSubmission, store: BatchStore) -> CompiledProgram | None:
    lang = registry().get(claim.language)
    largest = max(claim.tests, key=lambda t: t.memory_mb)
    spec = RunSpec(language=lang, code=claim.code, files=claim.files, entry=claim.entry_name,
                   timeout=largest.timeout, memory_mb=largest.memory_mb, compile_cap=compile_cap(claim.tier))
    program = runner().compile(spec)
    if isinstance(program, CompiledProgram):
        if lang.compile:
            store.record_compile(claim, ExecutionStatus.SUCCESS, program.compile_output, program.compile_cpu_time,
                                 program.compile_wall_time)
        return program
    output = program.compile_output or program.message or ""
    store.record_compile(claim, program.status, output, program.cpu_time, program.wall_time)
    ended = Verdict.COMPILE_ERROR if program.status == ExecutionStatus.COMPILE_ERROR else Verdict.INTERNAL_ERROR
    store.fail_cases(claim.submission_id, ended, program.message, claim.attempt)
    return None


def run_tests(claim: ClaimedSubmission, program: CompiledProgram, store: BatchStore,
              stop: threading.Event | None = None) -> None:
    """Each pending test in turn; `stop` (set when the batch is cancelled) kills the running one."""
    pending, policy = claim.pending, claim.artifacts
    for test in claim.tests:
        case_id = pending.get(test.index)
        if case_id is None:  # final already, or cancelled
            continue
        if not store.start_case(claim, case_id):  # cancelled or final since: look again at what is left
            pending = store.pending_cases(claim.submission_id)
            continue
        spec = RunSpec(language=program.language, code="", stdin=test.stdin, args=test.args,
                       timeout=test.timeout, memory_mb=test.memory_mb,
                       outputs=policy.caps() if policy else None)
        result = runner().run_compiled(program, spec, stop)
        if result.status == ExecutionStatus.STOPPED:  # billed for the CPU it used, graded nothing
            graded, diff = Verdict.STOPPED, None
        else:
            printed = result.raw_stdout.decode("utf-8", errors="replace")  # graded as printed, \r included
            graded, diff = verdict(result.status, printed, test.expected_output, claim.comparison)
        kept = keep(result.outputs, policy)
        if store.finish_case(claim, case_id, test, result, graded, diff, kept) and policy is not None:
            # the quota's room shrinks case by case: the claim saw it once, for all of them
            policy = replace(policy, room_bytes=policy.room_bytes - sum(f.size for f in kept.files))
    store.close_submission(claim.submission_id)


@bound_task(name=GRADE_TASK, max_retries=INFRA_RETRIES, acks_late=True, reject_on_worker_lost=True,
            time_limit=GRADE_TIME_LIMIT, soft_time_limit=GRADE_SOFT_TIME_LIMIT)
def grade_submission(self: BoundTask, submission_id: int, language: str | None = None,
                     resume_attempt: int | None = None) -> None:
    store = ports().batches
    claim = None

    def fail(message: str) -> None:  # ends what this attempt may end (unknown attempt: what is queued)
        store.fail_cases(submission_id, Verdict.INTERNAL_ERROR, message, claim.attempt if claim else resume_attempt)
    try:
        claim = store.claim_submission(submission_id, self.request.hostname or "unknown",
                                       delivery_of(self, resume_attempt))
        if claim is None:
            return  # every case is final or cancelled, or another attempt holds it: a duplicate delivery
        if claim.attempt > MAX_ATTEMPTS:
            fail(f"gave up after {MAX_ATTEMPTS} attempts (worker lost)")
            return
        program = compile_submission(claim, store)
        if program is not None:
            with StopWatch(redis_client(self.app.conf.codestudio_redis_url), claim.batch_id) as stop:
                run_tests(claim, program, store, stop)
    except infra_errors() as exc:
        retry_infra(self, exc, f"submission {submission_id}", claim.attempt if claim else resume_attempt, fail)
    except SoftTimeLimitExceeded:
        fail("the submission's tests exceeded the task time limit")
    except Exception as exc:  # a bug: end the cases visibly, never leave them queued
        log.exception("submission %s failed", submission_id)
        fail(f"internal error: {type(exc).__name__}")
        raise
