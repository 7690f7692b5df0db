"""The persistence the execution task needs, implemented by the service layer.

Tasks depend on this interface only, so they import neither Flask nor the API package.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sandbox import RunResult


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


_store: ExecutionStore | None = None


def set_store(store: ExecutionStore) -> None:
    global _store
    _store = store


def get_store() -> ExecutionStore:
    if _store is None:
        raise RuntimeError("no execution store configured")
    return _store
