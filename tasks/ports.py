"""Everything the worker needs from outside itself: the protocols its tasks call, and the one
call that wires their implementations in (`wire`). The SQL implementations live in `app/stores/`
(`app.stores.sql_ports` builds them); a worker refuses to start until they are wired.

Tasks depend on these protocols only, so they import neither Flask nor the API package."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, Protocol

from sandbox import ExecutionStatus, RunResult
from sandbox.outputs import OutputCaps

from .artifact_store import BlobStore
from .grading import Comparison, Verdict

# ---- run artifacts (tasks/artifacts.py) ------------------------------------------------------


@dataclass(frozen=True)
class ArtifactPolicy:
    """What a run may keep of the files it writes under /work/out/: its tier's caps, and the room
    its owner's storage quota had left when the run was claimed."""
    tier: str
    files: int
    total_bytes: int
    quota_bytes: int
    room_bytes: int  # the quota less what the owner stores (project files and kept artifacts)

    def caps(self) -> OutputCaps:
        return OutputCaps(self.files, self.total_bytes, f"the {self.tier} tier")


@dataclass(frozen=True)
class StoredArtifact:
    """One file kept: its bytes are in the blob store under sha256."""
    name: str
    size: int
    mime: str
    sha256: str


@dataclass(frozen=True)
class KeptArtifacts:
    """The files a run keeps, and why others were not kept (None: all were)."""
    files: tuple[StoredArtifact, ...] = ()
    note: str | None = None


NO_ARTIFACTS = KeptArtifacts()

# ---- one run ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveOptions:
    """How a live run talks to its caller: through a pipe per stream, or one terminal of this size."""
    tty: bool = False
    cols: int = 80
    rows: int = 24


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
    live: LiveOptions | None = None  # a live run: its caller talks to it while it runs (tasks/live.py)
    artifacts: ArtifactPolicy | None = None  # None: nothing under /work/out/ is kept
    queue_seconds: float | None = None  # created -> this claim, as recorded with it


@dataclass(frozen=True)
class Outcome:
    """How an execution ended: what it shows, and what it used in total (its usage record)."""
    result: RunResult  # the last run's outputs; with several runs, time and memory are their means
    runs: int  # runs that happened: fewer than asked when one fails, none when compiling fails
    cpu_seconds: float  # compiling once plus every run that happened
    wall_seconds: float
    artifacts: KeptArtifacts = NO_ARTIFACTS  # stored already; finish records them with the result

    @classmethod
    def single(cls, result: RunResult) -> Outcome:
        """One compile and run in one work dir (the compile's CPU is in the result)."""
        ran = result.status != ExecutionStatus.COMPILE_ERROR
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


# ---- batch grading ---------------------------------------------------------------------------


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
    artifacts: ArtifactPolicy | None = None  # what each case may keep of its /work/out/


class BatchStore(Protocol):
    def claim_submission(self, submission_id: int, worker: str, delivery: Delivery) -> ClaimedSubmission | None:
        """Count the attempt and list the cases still to run; None if nothing is left, or another
        attempt holds the submission and this delivery may not take it over."""

    def record_compile(self, claim: ClaimedSubmission, status: ExecutionStatus, output: str, cpu_seconds: float,
                       wall_seconds: float) -> None:
        """Keep the compile's result and bill it once per submission."""

    def pending_cases(self, submission_id: int) -> dict[int, int]:
        """test index -> case id of the submission's cases not yet final (nor cancelled)."""

    def start_case(self, claim: ClaimedSubmission, case_id: int) -> bool:
        """Mark the case running before its jail starts; False if it is final, its batch cancelled,
        or another attempt holds the submission now."""

    def finish_case(self, claim: ClaimedSubmission, case_id: int, test: BatchTest, result: RunResult,
                    verdict: Verdict, diff: str | None, kept: KeptArtifacts = NO_ARTIFACTS) -> bool:
        """Record and bill one case this attempt started exactly once (with the artifacts it keeps)
        and count it done; False if it already was, or another attempt has started it since."""

    def close_submission(self, submission_id: int) -> None:
        """Mark the submission done once none of its cases is left to run."""

    def fail_cases(self, submission_id: int, verdict: Verdict, message: str | None, attempt: int | None) -> int:
        """End with `verdict` (not billed) the submission's queued cases and those `attempt` or an
        earlier one left running (a later attempt's are its own); a submission never claimed gets
        its cases made ended, so its batch completes. In a cancelled batch, a case not started ends
        `cancelled` (given back to the quota) and a started one `stopped` (billed)."""


# ---- recovery of lost work (tasks/recovery.py) -----------------------------------------------


@dataclass(frozen=True)
class RecoveryPolicy:
    interval: float = 15.0  # seconds between two looks
    queued_after: float = 120.0  # a message not consumed by then is presumed lost
    running_grace: float = 60.0  # claim-to-jail delay and clock skew, beyond the run's own limits
    limit: int = 500  # most sent again per look and kind


@dataclass(frozen=True)
class Lost:
    task: str  # the task to send: tasks.routing EXECUTE_TASK or GRADE_TASK
    id: str | int  # its execution or submission id
    language: str
    resume_attempt: int | None  # None: never claimed; N: attempt N is abandoned, take it over
    age: float  # seconds it has been waiting, or since its attempt last made progress


class LostWork(Protocol):
    def find(self, languages: Iterable[str], batch_languages: Iterable[str], policy: RecoveryPolicy) -> list[Lost]:
        """Work of these languages (interactive, batch) that looks lost under the policy."""


# ---- HTTP callbacks (tasks/callbacks.py) -----------------------------------------------------


class Callback(NamedTuple):
    """A PUT to send: where, and the JSON body."""
    url: str
    body: bytes


# ---- retention (tasks/retention.py) ----------------------------------------------------------


@dataclass(frozen=True)
class Pruned:
    """One kind of row retention removes: how many went (or would go, in a dry run), and when the
    oldest and the newest of them were created (None where the kind has no date of its own)."""
    kind: str  # executions, live_runs, batches, batch_submissions, batch_cases
    rows: int
    oldest: datetime | None = None
    newest: datetime | None = None


class RetentionStore(Protocol):
    def survey(self, cutoff: datetime) -> tuple[Pruned, ...]:
        """What prune would delete now: final executions and final batches (with their submissions
        and cases) created before `cutoff`. Deletes nothing."""

    def prune(self, cutoff: datetime, chunk_rows: int) -> tuple[Pruned, ...]:
        """Delete them, at most `chunk_rows` rows of a kind per transaction, and say what went.
        Usage records stay (their link is set to NULL); artifact rows go with their owner."""


@dataclass(frozen=True)
class RetentionPorts:
    store: RetentionStore
    days: float  # executions and batches older than this are pruned; 0 keeps them forever
    chunk_rows: int = 500


# ---- wiring ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArtifactPorts:
    blobs: BlobStore
    expire: Callable[[], int]  # remove expired artifacts and the blobs no row names; how many rows went
    expire_interval: float = 600.0  # seconds between two expiries (each worker's main process)


@dataclass(frozen=True)
class Ports:
    executions: ExecutionStore
    batches: BatchStore
    lost_work: LostWork
    callback_for: Callable[[str], Callback | None]  # execution id -> the PUT to send, or None
    # what the stores raise while their backend is unreachable: retried like a lost Redis
    unavailable: tuple[type[Exception], ...]
    artifacts: ArtifactPorts | None = None  # None: runs keep no artifacts
    retention: RetentionPorts | None = None  # None: nothing is pruned


_wired: list[Ports] = []


def wire(ports: Ports) -> None:
    """Install the implementations (once per process; again replaces them, e.g. in tests)."""
    _wired[:] = [ports]


def is_wired() -> bool:
    return bool(_wired)


def ports() -> Ports:
    if not _wired:
        raise RuntimeError("the worker's ports are not wired: call tasks.ports.wire() at start-up")
    return _wired[0]
