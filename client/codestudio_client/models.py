"""What the API answers, as frozen dataclasses. Each keeps the JSON it came from in `raw`, so a field
the server adds later is never lost; fields the server may not send yet parse as None or empty."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

JsonObject = dict[str, Any]

# an execution in one of these may still change; every other status is final
ACTIVE_STATUSES = frozenset({"queued", "running"})
BATCH_FINAL = frozenset({"done", "cancelled"})


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True)
class RunError:
    """The program's uncaught error as the run reports it (a Python exception, say): its type name,
    message and traceback."""
    name: str
    message: str
    traceback: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunError:
        trace = data.get("traceback") or ""
        if isinstance(trace, list):
            trace = "\n".join(map(str, trace))
        return cls(str(data.get("name") or ""), str(data.get("message") or data.get("value") or ""), str(trace))


@dataclass(frozen=True)
class Artifact:
    """A file the run produced; download it with `download_artifact(execution.id, artifact.name)`."""
    name: str
    size: int | None
    mime: str | None
    sha256: str | None
    url: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Artifact:
        return cls(str(data["name"]), _int(data.get("size")), _str(data.get("mime")), _str(data.get("sha256")),
                   _str(data.get("url")))


@dataclass(frozen=True)
class Truncated:
    """Which of the streams were cut at the output cap."""
    stdout: bool = False
    stderr: bool = False

    def __bool__(self) -> bool:
        return self.stdout or self.stderr


@dataclass(frozen=True)
class Execution:
    """One run of a program. `ok`: it ran and exited 0. `exit_code` is None while it runs and for a
    run ended by a signal (`signal`) or a limit (`status` timeout, memory_limit, ...)."""
    id: str
    status: str
    language: str | None
    stdout: str
    stderr: str
    compile_output: str
    exit_code: int | None
    signal: str | None
    cpu_time: float | None
    wall_time: float | None
    memory_kb: int | None
    message: str | None
    truncated: Truncated
    error: RunError | None
    artifacts: list[Artifact]
    project_id: str | None
    raw: JsonObject = field(repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.status == "success"

    @property
    def final(self) -> bool:
        return self.status not in ACTIVE_STATUSES

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Execution:
        truncated = data.get("truncated") or {}
        error = data.get("error")
        return cls(
            id=str(data["id"]), status=str(data["status"]), language=_str(data.get("language")),
            stdout=data.get("stdout") or "", stderr=data.get("stderr") or "",
            compile_output=data.get("compile_output") or "", exit_code=_int(data.get("returncode")),
            signal=_str(data.get("signal")), cpu_time=_float(data.get("cpu_time")),
            wall_time=_float(data.get("execution_time")), memory_kb=_int(data.get("memory_kb")),
            message=_str(data.get("message")),
            truncated=Truncated(bool(truncated.get("stdout")), bool(truncated.get("stderr"))),
            error=RunError.from_json(error) if isinstance(error, Mapping) else None,
            artifacts=[Artifact.from_json(a) for a in data.get("artifacts") or ()],
            project_id=_str(data.get("project_id")), raw=dict(data))


@dataclass(frozen=True)
class Language:
    id: str
    name: str
    version: str | None
    aliases: list[str]
    extension: str | None
    available: bool
    raw: JsonObject = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Language:
        return cls(str(data["id"]), str(data.get("name") or data["id"]), _str(data.get("version")),
                   [str(a) for a in data.get("aliases") or ()], _str(data.get("extension")),
                   bool(data.get("available")), dict(data))


@dataclass(frozen=True)
class ProjectFile:
    """A project's file; `content` is None where the API lists files without their content."""
    name: str
    size: int | None
    content: str | None
    raw: JsonObject = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProjectFile:
        return cls(str(data["filename"]), _int(data.get("size")), _str(data.get("content")), dict(data))


@dataclass(frozen=True)
class Project:
    """A project; `files` is filled by get_project (names and sizes, no content), empty in lists."""
    id: str
    name: str
    language: str | None
    entry: str | None
    file_count: int
    total_size: int
    files: list[ProjectFile]
    raw: JsonObject = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Project:
        return cls(str(data["id"]), str(data["name"]), _str(data.get("language")), _str(data.get("entry")),
                   int(data.get("file_count") or 0), int(data.get("total_size") or 0),
                   [ProjectFile.from_json(f) for f in data.get("files") or ()], dict(data))


@dataclass(frozen=True)
class BatchProgress:
    done: int
    total: int
    cancelled: int

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BatchProgress:
        return cls(int(data.get("done") or 0), int(data.get("total") or 0), int(data.get("cancelled") or 0))


@dataclass(frozen=True)
class Batch:
    """A batch's status and progress; `raw` holds the rest (verdicts, tests, a page of submissions)."""
    id: str
    status: str
    language: str | None
    progress: BatchProgress
    verdicts: dict[str, int]
    max_score: float | None
    raw: JsonObject = field(repr=False, compare=False)

    @property
    def final(self) -> bool:
        return self.status in BATCH_FINAL

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Batch:
        return cls(str(data["id"]), str(data["status"]), _str(data.get("language")),
                   BatchProgress.from_json(data.get("progress") or {}),
                   {str(k): int(v) for k, v in (data.get("verdicts") or {}).items()},
                   _float(data.get("max_score")), dict(data))


@dataclass(frozen=True)
class Page:
    """One page of a listing and the cursor of the next (None: the last)."""
    items: list[JsonObject]
    next_cursor: str | None
