"""The persistence batch grading needs, implemented by the service layer (like store.py)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sandbox import RunResult

from .grading import Comparison
from .store import Delivery, Provided


@dataclass(frozen=True)
class BatchTest:
    index: int
    name: str
    stdin: bytes
    expected_output: str
    points: float
    args: tuple[str, ...]
    timeout: float
    memory_mb: int


@dataclass(frozen=True)
class ClaimedSubmission:
    submission_id: int
    batch_id: str
    attempt: int
    user_id: int
    tier: str
    language: str
    code: str
    entry_name: str | None
    files: tuple[tuple[str, bytes], ...]
    comparison: Comparison
    tests: tuple[BatchTest, ...]
    pending: dict[int, int]  # test index -> case id, for the cases not yet final (queued, or left running)


class BatchStore(Protocol):
    def claim_submission(self, submission_id: int, worker: str, delivery: Delivery) -> ClaimedSubmission | None:
        """Count the attempt and list the cases still to run; None if nothing is left, or another
        attempt holds the submission and this delivery may not take it over."""

    def record_compile(self, claim: ClaimedSubmission, status: str, output: str, cpu_seconds: float,
                       wall_seconds: float) -> None:
        """Keep the compile's result and bill it once per submission."""

    def pending_cases(self, submission_id: int) -> dict[int, int]:
        """test index -> case id of the submission's cases not yet final (nor cancelled)."""

    def start_case(self, claim: ClaimedSubmission, case_id: int) -> bool:
        """Mark the case running before its jail starts; False if it is final, its batch cancelled,
        or another attempt holds the submission now."""

    def finish_case(self, claim: ClaimedSubmission, case_id: int, test: BatchTest, result: RunResult,
                    verdict: str, diff: str | None) -> bool:
        """Record and bill one case this attempt started exactly once and count it done; False if it
        already was, or another attempt has started it since."""

    def close_submission(self, submission_id: int) -> None:
        """Mark the submission done once none of its cases is left to run."""

    def fail_cases(self, submission_id: int, verdict: str, message: str | None, attempt: int | None) -> int:
        """End with `verdict` (not billed) the submission's queued cases and those `attempt` or an
        earlier one left running (a later attempt's are its own); a submission never claimed gets
        its cases made ended, so its batch completes. In a cancelled batch, a case not started ends
        `cancelled` (given back to the quota) and a started one `stopped` (billed)."""


batch_store: Provided[BatchStore] = Provided("batch store")
