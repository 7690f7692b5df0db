"""The worker's batch store, observed: each graded case counted by language and verdict once it is
recorded (exactly once, as `finish_case` says), and logged with its batch, submission and user."""
from __future__ import annotations

import logging

from sandbox import ExecutionStatus, RunResult
from tasks import metrics
from tasks.grading import Verdict
from tasks.metrics import Recorder, Sample
from tasks.ports import NO_ARTIFACTS, BatchStore, BatchTest, ClaimedSubmission, Delivery, KeptArtifacts

log = logging.getLogger("codestudio.batches")


class ObservedBatchStore:
    def __init__(self, inner: BatchStore, recorder: Recorder):
        self.inner, self.recorder = inner, recorder

    def claim_submission(self, submission_id: int, worker: str, delivery: Delivery) -> ClaimedSubmission | None:
        return self.inner.claim_submission(submission_id, worker, delivery)

    def record_compile(self, claim: ClaimedSubmission, status: ExecutionStatus, output: str, cpu_seconds: float,
                       wall_seconds: float) -> None:
        self.inner.record_compile(claim, status, output, cpu_seconds, wall_seconds)

    def pending_cases(self, submission_id: int) -> dict[int, int]:
        return self.inner.pending_cases(submission_id)

    def start_case(self, claim: ClaimedSubmission, case_id: int) -> bool:
        return self.inner.start_case(claim, case_id)

    def finish_case(self, claim: ClaimedSubmission, case_id: int, test: BatchTest, result: RunResult,
                    verdict: Verdict, diff: str | None, kept: KeptArtifacts = NO_ARTIFACTS) -> bool:
        recorded = self.inner.finish_case(claim, case_id, test, result, verdict, diff, kept)
        if recorded:
            log.info("batch case finished", extra={
                "batch_id": claim.batch_id, "submission_id": claim.submission_id, "case_id": case_id,
                "user_id": claim.user_id, "language": claim.language, "verdict": str(verdict),
                "wall_seconds": result.wall_time, "memory_kb": result.memory_kb})
            self.recorder.record(Sample(metrics.BATCH_CASES, (claim.language, str(verdict)), 1))
        return recorded

    def close_submission(self, submission_id: int) -> None:
        self.inner.close_submission(submission_id)

    def fail_cases(self, submission_id: int, verdict: Verdict, message: str | None, attempt: int | None) -> int:
        return self.inner.fail_cases(submission_id, verdict, message, attempt)
