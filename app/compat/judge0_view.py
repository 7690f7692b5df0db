"""Our executions as Judge0 submissions: status ids, Judge0's trimmed comparison with
expected_output, times as strings, memory in KB, millisecond UTC timestamps, base64 on request."""
from __future__ import annotations

import base64
import uuid
from datetime import UTC

from sandbox import ACTIVE_STATUSES
from sandbox import ExecutionStatus as S
from sandbox.verdict import signal_name

from ..models import Execution, Judge0Submission
from .judge0_ids import LANGUAGES, SIGNAL_STATUSES, STATUSES

DEFAULT_FIELDS = ("token", "time", "memory", "stdout", "stderr", "compile_output", "message", "status")
REQUEST_FIELDS = ("source_code", "language_id", "stdin", "expected_output", "compiler_options",
                  "command_line_arguments", "cpu_time_limit", "cpu_extra_time", "wall_time_limit", "memory_limit",
                  "stack_limit", "max_processes_and_or_threads", "enable_per_process_and_thread_time_limit",
                  "enable_per_process_and_thread_memory_limit", "max_file_size", "redirect_stderr_to_stdout",
                  "enable_network", "number_of_runs", "additional_files", "callback_url")
RESULT_FIELDS = ("stdout", "stderr", "compile_output", "message", "exit_code", "exit_signal", "status", "status_id",
                 "language", "created_at", "finished_at", "token", "time", "wall_time", "memory")
ALL_FIELDS = REQUEST_FIELDS + RESULT_FIELDS
ENCODED = ("source_code", "stdin", "expected_output", "stdout", "stderr", "compile_output", "message")
# our status -> Judge0's status id, for the statuses that are neither active, success nor error:
# no Memory Limit status in Judge0, so "Other" with the reason in `message` (see _message)
ENDED_STATUS_IDS: dict[str, int] = {S.TIMEOUT: 5, S.COMPILE_ERROR: 6, S.OUTPUT_LIMIT: 8, S.MEMORY_LIMIT: 12}


def token(execution_id: str) -> str:
    return str(uuid.UUID(hex=execution_id))


def execution_id(token_text: str) -> str:
    return token_text.replace("-", "").lower()


def judge0_strip(text: str | None) -> str | None:
    """Judge0's comparison: trailing whitespace off every line, then off both ends."""
    if text is None:
        return None
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


def _signal(row: Execution) -> int | None:
    if row.status in (S.MEMORY_LIMIT, S.TIMEOUT):
        return 9
    if row.status != S.ERROR or row.returncode is None or signal_name(row.returncode) is None:
        return None
    return row.returncode - 128


def status_id(row: Execution, expected: str | None) -> int:
    if row.status in ACTIVE_STATUSES:
        return 1 if row.status == S.QUEUED else 2
    if row.status == S.SUCCESS:
        return 4 if expected is not None and judge0_strip(row.stdout) != judge0_strip(expected) else 3
    if row.status == S.ERROR:
        sig = _signal(row)
        return SIGNAL_STATUSES.get(sig, 12) if sig else 11
    return ENDED_STATUS_IDS.get(row.status, 13)  # 13: Internal Error


def _message(row: Execution, status: int) -> str | None:
    if row.status == S.MEMORY_LIMIT:
        return "Memory limit exceeded (killed by signal 9)"
    if row.status == S.TIMEOUT:
        return "Time limit exceeded"
    if row.status == S.OUTPUT_LIMIT:
        return "Output limit exceeded"
    if status == 11:
        return f"Exited with error status {row.returncode}"
    return row.message


def stamp(value) -> str | None:
    if value is None:
        return None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _seconds(value: float | None) -> str | None:
    return None if value is None else f"{value:.3f}"


def attributes(sub: Judge0Submission) -> dict:
    row, settings = sub.execution, sub.settings or {}
    status = status_id(row, sub.expected_output)
    final = status > 2
    stdout, stderr = row.stdout, row.stderr
    if final and settings.get("redirect_stderr_to_stdout"):
        stdout, stderr = (stdout or "") + (stderr or ""), None
    sig = _signal(row) if final else None
    name_template = LANGUAGES[sub.language_id][1]
    return {
        **{field: settings.get(field) for field in REQUEST_FIELDS if field in settings},
        "source_code": row.code, "language_id": sub.language_id, "stdin": bytes(row.stdin or b"").decode(),
        "expected_output": sub.expected_output, "callback_url": sub.callback_url,
        "stdout": stdout if final else None, "stderr": stderr if final else None,
        "compile_output": row.compile_output or None, "message": _message(row, status) if final else None,
        "exit_code": row.returncode if final and not sig else None, "exit_signal": sig,
        "status": {"id": status, "description": STATUSES[status]}, "status_id": status,
        "language": {"id": sub.language_id, "name": name_template.replace(" ({})", "").replace(" {}", "")},
        "created_at": stamp(row.created_at), "finished_at": stamp(row.finished_at), "token": token(row.id),
        "time": _seconds(row.cpu_time) if final else None, "wall_time": _seconds(row.execution_time) if final else None,
        "memory": row.memory_kb if final else None,
    }


def render(sub: Judge0Submission, fields: tuple[str, ...], encoded: bool) -> dict:
    values = attributes(sub)
    out = {field: values.get(field) for field in fields}
    if encoded:
        for field in ENCODED:
            value = out.get(field)
            if isinstance(value, str):
                out[field] = base64.b64encode(value.encode()).decode()
    return out


def parse_fields(raw: str | None) -> tuple[str, ...]:
    """Judge0's `fields` query: a comma list, or `*` for all; unknown names raise ValueError."""
    if not raw:
        return DEFAULT_FIELDS
    if raw.strip() == "*":
        return ALL_FIELDS
    fields = tuple(f.strip() for f in raw.split(",") if f.strip())
    unknown = [f for f in fields if f not in ALL_FIELDS]
    if unknown:
        raise ValueError(f"invalid fields: [{', '.join(unknown)}]")
    return fields
