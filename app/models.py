"""Database models: users, API keys, executions and their usage records."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, overload

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sandbox import ExecutionStatus

from .extensions import db

if TYPE_CHECKING:
    # db.Model is built at run time from Base's body plus Flask-SQLAlchemy's mixins: mypy can
    # follow neither, so it checks the models against Base, the declarative base they extend
    from .extensions import Base as Model
else:
    Model = db.Model


def utcnow() -> datetime:
    return datetime.now(UTC)


@overload
def aware(value: datetime) -> datetime: ...
@overload
def aware(value: None) -> None: ...
def aware(value: datetime | None) -> datetime | None:
    """A timestamp as UTC: SQLite hands them back naive."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def new_id() -> str:
    return uuid.uuid4().hex


def is_row_id(value: str) -> bool:
    """Ids we hand out are 32 lowercase hex digits; anything else cannot name a row (and is not sent to the DB)."""
    return len(value) == 32 and all(c in "0123456789abcdef" for c in value)


class User(Model):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(320), unique=True)
    tier: Mapped[str] = mapped_column(sa.String(32), default="free")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    keys: Mapped[list[ApiKey]] = relationship(back_populates="user")


class ApiKey(Model):
    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    prefix: Mapped[str] = mapped_column(sa.String(16))
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    user: Mapped[User] = relationship(back_populates="keys")


class Execution(Model):
    __tablename__ = "executions"
    __table_args__ = (sa.Index("ix_executions_user_created", "user_id", "created_at", "id"),
                      sa.Index("ix_executions_created_at", "created_at"))  # retention: oldest first
    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=new_id)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    project_id: Mapped[str | None] = mapped_column(sa.String(64))
    entry_name: Mapped[str | None] = mapped_column(sa.String(255))
    language: Mapped[str] = mapped_column(sa.String(32))
    status: Mapped[str] = mapped_column(sa.String(20), default=ExecutionStatus.QUEUED, index=True)
    # request
    code: Mapped[str] = mapped_column(sa.Text)
    stdin: Mapped[bytes] = mapped_column(sa.LargeBinary, default=b"")
    args: Mapped[list] = mapped_column(sa.JSON, default=list)
    files: Mapped[list] = mapped_column(sa.JSON, default=list)
    timeout: Mapped[float] = mapped_column(sa.Float)
    memory_mb: Mapped[int] = mapped_column(sa.Integer)
    runs: Mapped[int] = mapped_column(sa.Integer, default=1, server_default="1")  # times to run (timing averaged)
    # a live run's options ({"tty": bool, "cols": int, "rows": int}); None for every other run
    live: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON(none_as_null=True))
    # result
    stdout: Mapped[str | None] = mapped_column(sa.Text)
    stderr: Mapped[str | None] = mapped_column(sa.Text)
    compile_output: Mapped[str | None] = mapped_column(sa.Text)
    # the compile stage's own use (NULL where nothing compiled)
    compile_cpu_time: Mapped[float | None] = mapped_column(sa.Float)
    compile_wall_time: Mapped[float | None] = mapped_column(sa.Float)
    compile_memory_kb: Mapped[int | None] = mapped_column(sa.Integer)
    returncode: Mapped[int | None] = mapped_column(sa.Integer)
    signal: Mapped[str | None] = mapped_column(sa.String(16))
    execution_time: Mapped[float | None] = mapped_column(sa.Float)
    cpu_time: Mapped[float | None] = mapped_column(sa.Float)
    memory_kb: Mapped[int | None] = mapped_column(sa.Integer)
    stdout_truncated: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    stderr_truncated: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    message: Mapped[str | None] = mapped_column(sa.Text)
    artifacts_note: Mapped[str | None] = mapped_column(sa.Text)  # why not every file under /work/out/ was kept
    # bookkeeping
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    worker: Mapped[str | None] = mapped_column(sa.String(255))
    claimed_by: Mapped[str | None] = mapped_column(sa.String(64))  # the task (message) holding the attempt
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    queue_seconds: Mapped[float | None] = mapped_column(sa.Float)
    usage: Mapped[UsageRecord | None] = relationship(back_populates="execution")
    artifacts: Mapped[list[Artifact]] = relationship(order_by="Artifact.name", viewonly=True)

    @property
    def truncated(self) -> dict[str, bool]:
        return {"stdout": bool(self.stdout_truncated), "stderr": bool(self.stderr_truncated)}


class Project(Model):
    __tablename__ = "projects"
    __table_args__ = (sa.UniqueConstraint("user_id", "name", name="uq_projects_user_name"),)
    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=new_id)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    language: Mapped[str | None] = mapped_column(sa.String(32))
    description: Mapped[str | None] = mapped_column(sa.Text)
    entry: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    last_run_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_run_status: Mapped[str | None] = mapped_column(sa.String(20))
    last_run_id: Mapped[str | None] = mapped_column(sa.String(32))
    # never loaded whole (a project may hold 2000 files of 1 MiB): files are read by explicit queries
    files: Mapped[list[ProjectFile]] = relationship(back_populates="project", cascade="all, delete-orphan",
                                                      passive_deletes=True, order_by="ProjectFile.filename",
                                                      lazy="raise")


class ProjectFile(Model):
    __tablename__ = "project_files"
    # listings and sums read this index only, never the rows (where SQLite keeps the content)
    __table_args__ = (sa.UniqueConstraint("project_id", "filename", name="uq_project_files_name"),
                      sa.Index("ix_project_files_listing", "project_id", "filename", "size", "created_at",
                               "updated_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[str] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(sa.String(255))
    # read only when asked for by name: metadata queries must not drag it along
    content: Mapped[str] = mapped_column(sa.Text, deferred=True, deferred_raiseload=True)
    size: Mapped[int] = mapped_column(sa.Integer)  # bytes of content (UTF-8): written with it, always
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    project: Mapped[Project] = relationship(back_populates="files", lazy="raise")


class UsageRecord(Model):
    """The billing line: exactly one per finished execution, per batch test run and per batch
    compile (each source column is UNIQUE; one of them is set, none once retention has pruned what
    it billed: the line stays, with its user, language, tier, status, CPU and cost)."""
    __tablename__ = "usage_records"
    id: Mapped[int] = mapped_column(primary_key=True)
    execution_id: Mapped[str | None] = mapped_column(sa.ForeignKey("executions.id", ondelete="SET NULL"), unique=True)
    batch_case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("batch_cases.id", ondelete="SET NULL"), unique=True)
    batch_submission_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("batch_submissions.id", ondelete="SET NULL"), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(16), default="run", server_default="run")  # run | compile
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    language: Mapped[str] = mapped_column(sa.String(32))
    tier: Mapped[str] = mapped_column(sa.String(32))
    status: Mapped[str] = mapped_column(sa.String(20))
    cpu_seconds: Mapped[float] = mapped_column(sa.Float)
    wall_seconds: Mapped[float] = mapped_column(sa.Float)
    cost: Mapped[Decimal] = mapped_column(sa.Numeric(14, 6))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    execution: Mapped[Execution | None] = relationship(back_populates="usage")


BATCH_ACTIVE = ("queued", "running")
BATCH_CREATING = "creating"  # rows still being written: never graded, but its runs are reserved
CASE_PENDING = ("queued", "running")  # a case still to run (running: its jail may be running now)


class Batch(Model):
    """Many submissions x many tests of one language; `done` counts final cases (the completion
    counter: the case that makes done == total finishes the batch)."""
    __tablename__ = "batches"
    __table_args__ = (sa.Index("ix_batches_user_created", "user_id", "created_at"),
                      sa.Index("ix_batches_status", "status"))
    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=new_id)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(sa.String(32))
    status: Mapped[str] = mapped_column(sa.String(20), default="queued")
    compare: Mapped[str] = mapped_column(sa.String(16))
    abs_tol: Mapped[float] = mapped_column(sa.Float)
    rel_tol: Mapped[float] = mapped_column(sa.Float)
    tests: Mapped[list] = mapped_column(sa.JSON)  # [{name, stdin, expected_output, points, args, timeout, memory_mb}]
    total: Mapped[int] = mapped_column(sa.Integer)
    done: Mapped[int] = mapped_column(sa.Integer, default=0)
    cancelled: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    submissions: Mapped[list[BatchSubmission]] = relationship(
        back_populates="batch", order_by="BatchSubmission.position", cascade="all, delete-orphan", passive_deletes=True)


class BatchSubmission(Model):
    __tablename__ = "batch_submissions"
    __table_args__ = (sa.UniqueConstraint("batch_id", "ref", name="uq_batch_submissions_ref"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[str] = mapped_column(sa.ForeignKey("batches.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(sa.Integer)
    ref: Mapped[str] = mapped_column(sa.String(200))  # the caller's submission id
    code: Mapped[str] = mapped_column(sa.Text)
    entry_name: Mapped[str | None] = mapped_column(sa.String(255))
    files: Mapped[list] = mapped_column(sa.JSON, default=list)
    status: Mapped[str] = mapped_column(sa.String(20), default="queued")
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    compile_status: Mapped[str | None] = mapped_column(sa.String(20))
    compile_output: Mapped[str | None] = mapped_column(sa.Text)
    compile_time: Mapped[float | None] = mapped_column(sa.Float)
    compiles: Mapped[int] = mapped_column(sa.Integer, default=0)
    score: Mapped[float] = mapped_column(sa.Float, default=0.0)
    worker: Mapped[str | None] = mapped_column(sa.String(255))
    claimed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))  # by the current attempt
    claimed_by: Mapped[str | None] = mapped_column(sa.String(64))  # the task (message) holding the attempt
    batch: Mapped[Batch] = relationship(back_populates="submissions")
    cases: Mapped[list[BatchCase]] = relationship(order_by="BatchCase.test_index", passive_deletes=True)


class BatchCase(Model):
    """One submission against one test: recorded (and billed) exactly once."""
    __tablename__ = "batch_cases"
    __table_args__ = (sa.UniqueConstraint("submission_id", "test_index", name="uq_batch_cases_test"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[str] = mapped_column(sa.ForeignKey("batches.id", ondelete="CASCADE"), index=True)
    submission_id: Mapped[int] = mapped_column(sa.ForeignKey("batch_submissions.id", ondelete="CASCADE"))
    test_index: Mapped[int] = mapped_column(sa.Integer)
    status: Mapped[str] = mapped_column(sa.String(20), default="queued")  # queued, running, a verdict, cancelled
    attempt: Mapped[int | None] = mapped_column(sa.Integer)  # the submission's attempt that started it
    points: Mapped[float] = mapped_column(sa.Float, default=0.0)
    returncode: Mapped[int | None] = mapped_column(sa.Integer)
    cpu_time: Mapped[float | None] = mapped_column(sa.Float)
    wall_time: Mapped[float | None] = mapped_column(sa.Float)
    memory_kb: Mapped[int | None] = mapped_column(sa.Integer)
    stdout: Mapped[str | None] = mapped_column(sa.Text)  # the start of it
    stderr: Mapped[str | None] = mapped_column(sa.Text)
    diff: Mapped[str | None] = mapped_column(sa.Text)
    message: Mapped[str | None] = mapped_column(sa.Text)
    artifacts_note: Mapped[str | None] = mapped_column(sa.Text)  # why not every file under /work/out/ was kept
    finished_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class Judge0Submission(Model):
    """What the Judge0-compatible API keeps beside the execution it runs as (the token is the execution id)."""
    __tablename__ = "judge0_submissions"
    execution_id: Mapped[str] = mapped_column(sa.ForeignKey("executions.id", ondelete="CASCADE"), primary_key=True)
    language_id: Mapped[int] = mapped_column(sa.Integer)
    expected_output: Mapped[str | None] = mapped_column(sa.Text)
    settings: Mapped[dict] = mapped_column(sa.JSON, default=dict)  # the request's limit and option fields, echoed
    callback_url: Mapped[str | None] = mapped_column(sa.String(2048))
    execution: Mapped[Execution] = relationship()


class Artifact(Model):
    """A file a run wrote under /work/out/; its bytes live in the artifact store under `sha256`
    (shared by every row with the same content). It belongs to an execution or to a batch case
    (which has no execution row), exactly one of them."""
    __tablename__ = "artifacts"
    __table_args__ = (
        sa.UniqueConstraint("execution_id", "name", name="uq_artifacts_execution_name"),
        sa.UniqueConstraint("batch_case_id", "name", name="uq_artifacts_batch_case_name"),
        sa.CheckConstraint("(execution_id IS NULL) <> (batch_case_id IS NULL)", name="ck_artifacts_one_owner"),
    )
    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=new_id)
    execution_id: Mapped[str | None] = mapped_column(sa.ForeignKey("executions.id", ondelete="CASCADE"))
    batch_case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("batch_cases.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(255))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    mime: Mapped[str] = mapped_column(sa.String(127))
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), index=True)
    batch_case: Mapped[BatchCase | None] = relationship(viewonly=True)  # its batch names its URL


class IdempotencyKey(Model):
    """An Idempotency-Key a user sent, the request it came with (`scope` and a hash of the body)
    and what that request created: a repeat within the retention answers with the same."""
    __tablename__ = "idempotency_keys"
    __table_args__ = (sa.UniqueConstraint("user_id", "key", name="uq_idempotency_keys_user_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(sa.String(255))
    scope: Mapped[str] = mapped_column(sa.String(16))  # run, batch, live
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    # indexed: deleting an execution or a batch finds its key without a scan
    execution_id: Mapped[str | None] = mapped_column(sa.ForeignKey("executions.id", ondelete="CASCADE"), index=True)
    batch_id: Mapped[str | None] = mapped_column(sa.ForeignKey("batches.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), index=True)
