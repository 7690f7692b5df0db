"""How an execution stands: the one list of statuses, shared by the sandbox (which ends runs with
one of the final ones), the worker, the database rows, the API and its Judge0/Piston mappings."""
from __future__ import annotations

from enum import StrEnum


class ExecutionStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    ERROR = "error"  # the program failed: a non-zero exit or a signal
    COMPILE_ERROR = "compile_error"
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"
    INTERNAL_ERROR = "internal_error"  # ours, not the program's: never billed
    STOPPED = "stopped"  # ended by its caller (a cancelled batch, a live run left): billed for what it used

    @property
    def is_final(self) -> bool:
        return self not in ACTIVE_STATUSES


ACTIVE_STATUSES = (ExecutionStatus.QUEUED, ExecutionStatus.RUNNING)
FINAL_STATUSES = tuple(s for s in ExecutionStatus if s not in ACTIVE_STATUSES)
