"""The one contract every API turns a run request into: the native schema, the Piston and the
Judge0 parsers all build a `RunRequest`; the run service reads nothing else."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tasks.ports import LiveOptions


@dataclass(frozen=True)
class SourceFile:
    name: str  # in its normal form (sandbox.filenames)
    content: str


@dataclass(frozen=True)
class Limits:
    """What the caller asked for; None: the tier's default."""
    timeout: float | None = None  # wall seconds
    memory_mb: int | None = None


@dataclass(frozen=True)
class RunRequest:
    language: str | None  # id or alias; None: the project's language
    code: str | None  # the entry file's text; None: the project's entry file
    stdin: str = ""
    args: tuple[str, ...] = ()
    files: tuple[SourceFile, ...] = ()  # beside the entry file in the work dir
    limits: Limits = field(default_factory=Limits)
    wait: bool = True  # answer with the result (or 202 at the wait cap)
    project_id: str | None = None  # run inside this project: its files are placed in the work dir
    filename: str | None = None  # with a project and no code: the project file to run
    entry: str | None = None  # the entry file's name, where the API names it (Piston)
    runs: int = 1  # run this many times, compiled once (Judge0's number_of_runs)
    live: LiveOptions | None = None  # a live run (app/api/live.py): the caller talks to it while it runs
    version: str | None = None  # which of the language's toolchains (services/language_versions.py); None: its own


@dataclass(frozen=True)
class PreparedRun:
    """A request checked against the caller's tier and its project: an Execution row's values."""
    user_id: int
    language: str
    code: str
    stdin: bytes
    args: list[str]
    files: list[dict[str, str]]  # stored as JSON: [{"name", "content"}]
    timeout: float
    memory_mb: int
    project_id: str | None
    entry_name: str | None
    runs: int
    live: dict[str, Any] | None = None  # stored as JSON: LiveOptions' fields
