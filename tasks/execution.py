"""The one task: execute one execution id under the sandbox and record the outcome."""
from __future__ import annotations

import logging
from dataclasses import replace

import redis

from sandbox import CompiledProgram, ExecutionStatus, Language, Runner, RunResult, RunSpec, registry
from sandbox.live import LiveLimits

from . import keys
from .artifacts import keep
from .celery_typing import BoundTask, CeleryApp, bound_task
from .live import LiveWorker, execute_live
from .live_relay import live_redis
from .ports import ClaimedRun, ExecutionStore, Outcome, ports
from .retry import INFRA_RETRIES, delivery_of, infra_errors, retry_infra
from .routing import CALLBACK_TASK, EXECUTE_TASK
from .tiers import compile_cap

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3

# an execution's runs happen one after another in one task: these bound the whole task, and the
# API refuses runs that could not fit (longest_seconds above RUNS_BUDGET_SECONDS)
EXECUTE_TIME_LIMIT = 300
EXECUTE_SOFT_TIME_LIMIT = EXECUTE_TIME_LIMIT - 30
RUNS_BUDGET_SECONDS = EXECUTE_SOFT_TIME_LIMIT - 30
RUN_OVERHEAD_SECONDS = 1.0  # a sandbox set up and torn down, per run

_runner: Runner | None = None
_redis: dict[str, redis.Redis] = {}


def runner() -> Runner:
    """One runner per worker process (created after fork)."""
    global _runner
    if _runner is None:
        _runner = Runner()
    return _runner


def close_runner() -> None:
    """Ends the compile jails this process started ahead of need (at shutdown)."""
    if _runner is not None:
        _runner.warm.close()


def redis_client(url: str) -> redis.Redis:
    if url not in _redis:
        _redis[url] = redis.Redis.from_url(url, socket_timeout=5, health_check_interval=30)
    return _redis[url]


def notify_done(url: str, execution_id: str, status: ExecutionStatus) -> None:
    """Wake the API request waiting on this execution (if any). Best effort: the result is
    recorded already, and a request that misses the signal reloads the row at its wait cap."""
    try:
        pipe = redis_client(url).pipeline()
        pipe.lpush(keys.done_key(execution_id), status)
        pipe.expire(keys.done_key(execution_id), keys.DONE_TTL_SECONDS)
        pipe.execute()
    except redis.exceptions.RedisError as exc:
        log.warning("execution %s: could not signal completion: %s", execution_id, exc)


def spec_for(claim: ClaimedRun) -> RunSpec:
    return RunSpec(
        language=registry().get(claim.language), code=claim.code, stdin=claim.stdin,
        args=claim.args, files=claim.files, timeout=claim.timeout, memory_mb=claim.memory_mb,
        entry=claim.entry_name, compile_cap=compile_cap(claim.tier),
        outputs=claim.artifacts.caps() if claim.artifacts else None,
    )


def longest_seconds(lang: Language, timeout: float, runs: int) -> float:
    """The longest an execution can hold a worker: one compile, then every run to its time limit."""
    compiling = lang.compile_limits.timeout if lang.compile else 0.0
    return compiling + runs * (timeout + RUN_OVERHEAD_SECONDS)


def most_runs(lang: Language, timeout: float) -> int:
    """How many runs of this language and time limit fit in one task."""
    return max(0, int((RUNS_BUDGET_SECONDS - longest_seconds(lang, timeout, 0)) // (timeout + RUN_OVERHEAD_SECONDS)))


def _averaged(program: CompiledProgram, results: list[RunResult]) -> Outcome:
    """Judge0's number_of_runs: the last run's outputs with time and memory averaged over the
    runs; the usage is their sum, plus the one compile."""
    last, count = results[-1], len(results)
    cpu_total, wall_total = sum(r.cpu_time for r in results), sum(r.wall_time for r in results)
    last.cpu_time, last.wall_time = round(cpu_total / count, 4), round(wall_total / count, 4)
    last.memory_kb = sum(r.memory_kb for r in results) // count
    last.compile_output, last.compile_cpu_time = program.compile_output, program.compile_cpu_time
    last.compile_wall_time, last.compile_memory_kb = program.compile_wall_time, program.compile_memory_kb
    return Outcome(last, count, round(program.compile_cpu_time + cpu_total, 4),
                   round(program.compile_wall_time + wall_total, 4))


def run_repeatedly(spec: RunSpec, runs: int) -> Outcome:
    """Compile once, then run up to `runs` times, each in a fresh sandbox; the first run that
    does not succeed ends it."""
    if runs <= 1:
        return Outcome.single(runner().run(spec))
    program = runner().compile(spec)
    if isinstance(program, RunResult):  # compiling failed: nothing ran
        return Outcome(program, 0, program.cpu_time, program.wall_time)
    results = [runner().run_compiled(program, spec)]
    while len(results) < runs and results[-1].status == ExecutionStatus.SUCCESS:
        results.append(runner().run_compiled(program, spec))
    return _averaged(program, results)


def send_callback_later(app: CeleryApp, execution_id: str) -> None:
    """Best effort, like the done signal: the result is recorded whether or not the broker takes it."""
    try:
        app.send_task(CALLBACK_TASK, args=[execution_id])
    except Exception as exc:  # kombu raises its own errors for a lost broker
        log.warning("execution %s: callback not queued: %s", execution_id, exc)


def live_worker(app: CeleryApp, store: ExecutionStore) -> LiveWorker:
    idle_seconds = app.conf.get("codestudio_live_idle_seconds", LiveLimits.idle_seconds)
    return LiveWorker(store=store, channel=live_redis(app.conf.codestudio_redis_url), runner=runner,
                      spec_for=spec_for, idle_seconds=float(idle_seconds))


def done(app: CeleryApp, claim: ClaimedRun, status: ExecutionStatus) -> None:
    """The execution is recorded final: wake whoever waits on it."""
    notify_done(app.conf.codestudio_redis_url, claim.execution_id, status)
    if claim.callback:
        send_callback_later(app, claim.execution_id)


def attempts_exhausted() -> Outcome:
    return Outcome.single(RunResult(status=ExecutionStatus.INTERNAL_ERROR,
                                    message=f"gave up after {MAX_ATTEMPTS} attempts (worker lost)"))


@bound_task(name=EXECUTE_TASK, max_retries=INFRA_RETRIES, acks_late=True, reject_on_worker_lost=True,
            time_limit=EXECUTE_TIME_LIMIT, soft_time_limit=EXECUTE_SOFT_TIME_LIMIT)
def execute_run(self: BoundTask, execution_id: str, language: str | None = None,
                resume_attempt: int | None = None) -> None:
    store = ports().executions
    claim = None
    try:
        claim = store.claim(execution_id, self.request.hostname or "unknown", delivery_of(self, resume_attempt))
        if claim is None:
            return  # final already, or another attempt holds it: a duplicate delivery
        if claim.live is not None:  # never retried once claimed: it ends here, whatever happens
            done(self.app, claim, execute_live(claim, live_worker(self.app, store)))
            return
        if claim.attempt > MAX_ATTEMPTS:
            outcome = attempts_exhausted()
        else:
            outcome = run_repeatedly(spec_for(claim), claim.runs)
            outcome = replace(outcome, artifacts=keep(outcome.result.outputs, claim.artifacts))
        if store.finish(claim, outcome):
            done(self.app, claim, outcome.result.status)
    except infra_errors() as exc:
        retry_infra(self, exc, f"execution {execution_id}", claim.attempt if claim else resume_attempt,
                    lambda message: store.fail(execution_id, message))
    except Exception as exc:  # a bug or a Celery time limit: end the run visibly, never leave it running
        log.exception("execution %s failed", execution_id)
        store.fail(execution_id, f"internal error: {type(exc).__name__}")
        raise
