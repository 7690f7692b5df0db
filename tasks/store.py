"""The persistence the execution task needs, implemented by the service layer.

Tasks depend on this interface only, so they import neither Flask nor the API package.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from sandbox import RunResult

T = TypeVar("T")


@dataclass(frozen=True)
class ClaimedRun:
    execution_id: str
    attempt: int
    user_id: int
    tier: str
    language: str
    code: str
    stdin: bytes
    args: tuple[str, ...]
    files: tuple[tuple[str, bytes], ...]
    timeout: float
    memory_mb: int
    entry_name: str | None = None
    project_id: str | None = None
    runs: int = 1  # run this many times (compiled once); time and memory are averaged
    callback: bool = False  # someone wants a PUT when it finishes (tasks.callbacks)


@dataclass(frozen=True)
class Outcome:
    """How an execution ended: what it shows, and what it used in total (its usage record)."""
    result: RunResult  # the last run's outputs; with several runs, time and memory are their means
    runs: int  # runs that happened: fewer than asked when one fails, none when compiling fails
    cpu_seconds: float  # compiling once plus every run that happened
    wall_seconds: float

    @classmethod
    def single(cls, result: RunResult) -> Outcome:
        """One compile and run in one work dir (the compile's CPU is in the result)."""
        ran = result.status != "compile_error"
        return cls(result, int(ran), round(result.cpu_time + result.compile_cpu_time, 4), result.wall_time)


@dataclass(frozen=True)
class Delivery:
    """What a message may claim. Anyone may claim queued work; work an attempt holds only the
    message that claimed it (delivered again, its earlier delivery is over: the worker died, or
    the task retried) or one sent to continue that very attempt (recovery taking over an abandoned
    attempt). So a duplicate message never starts a second, concurrent run."""
    task_id: str | None = None  # the Celery task id: the same across redeliveries and retries
    resume_attempt: int | None = None

    def may_take_over(self, attempts: int, claimed_by: str | None) -> bool:
        return (claimed_by is not None and claimed_by == self.task_id) or self.resume_attempt == attempts


class ExecutionStore(Protocol):
    def claim(self, execution_id: str, worker: str, delivery: Delivery) -> ClaimedRun | None:
        """Mark the execution running and count the attempt; None if it is final, or held by
        another attempt this delivery may not take over."""

    def finish(self, claim: ClaimedRun, outcome: Outcome) -> bool:
        """Record the result and its usage exactly once; False if another attempt did."""

    def fail(self, execution_id: str, message: str) -> None:
        """End a not-yet-final execution as internal_error (nothing billed)."""


class Provided(Generic[T]):
    """An implementation the service layer provides at start-up (the tasks only know the protocol)."""

    def __init__(self, what: str):
        self.what, self.value = what, None

    def set(self, value: T) -> None:
        self.value = value

    def get(self) -> T:
        if self.value is None:
            raise RuntimeError(f"no {self.what} configured")
        return self.value


execution_store: Provided[ExecutionStore] = Provided("execution store")
