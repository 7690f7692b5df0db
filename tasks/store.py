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


class ExecutionStore(Protocol):
    def claim(self, execution_id: str, worker: str) -> ClaimedRun | None:
        """Mark the execution running and count the attempt; None if it is already final."""

    def finish(self, claim: ClaimedRun, result: RunResult) -> bool:
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
