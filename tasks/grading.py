"""Grading one run against a test's expected output: verdicts from run statuses and comparisons,
and a short diff for a wrong answer. Both work in time linear in the texts (tasks/compare.py,
tasks/diff.py): grading runs in the worker, outside the jail and its limits."""
from __future__ import annotations

from enum import StrEnum

from sandbox import ExecutionStatus

from .compare import COMPARE_MODES, Comparison, matches
from .diff import short_diff

__all__ = ["COMPARE_MODES", "GRADED", "Comparison", "Verdict", "grading_seconds", "matches", "short_diff", "verdict"]

_S = ExecutionStatus


class Verdict(StrEnum):
    """How one submission did on one test: a run's ending, graded (the run statuses it shares
    keep their names)."""
    ACCEPTED = "accepted"
    WRONG_ANSWER = "wrong_answer"
    RUNTIME_ERROR = "runtime_error"
    TIMEOUT = _S.TIMEOUT.value
    MEMORY_LIMIT = _S.MEMORY_LIMIT.value
    OUTPUT_LIMIT = _S.OUTPUT_LIMIT.value
    COMPILE_ERROR = _S.COMPILE_ERROR.value
    INTERNAL_ERROR = _S.INTERNAL_ERROR.value  # ours: not billed
    STOPPED = _S.STOPPED.value  # killed by a cancel while it ran: billed, not graded
    CANCELLED = "cancelled"  # never started: given back to the quota


GRADED = tuple(v for v in Verdict if v not in (Verdict.STOPPED, Verdict.CANCELLED))
# run status -> verdict, for runs that did not end normally
STATUS_VERDICTS = {_S.ERROR: Verdict.RUNTIME_ERROR, _S.TIMEOUT: Verdict.TIMEOUT, _S.MEMORY_LIMIT: Verdict.MEMORY_LIMIT,
                   _S.OUTPUT_LIMIT: Verdict.OUTPUT_LIMIT, _S.COMPILE_ERROR: Verdict.COMPILE_ERROR,
                   _S.INTERNAL_ERROR: Verdict.INTERNAL_ERROR, _S.STOPPED: Verdict.STOPPED}
# Grading reads the expected output line by line or token by token, and the output only as far as
# it matches (plus C-speed passes over it): its time is about linear in the expected output.
GRADING_BASE_SECONDS = 0.05  # the output's C-speed passes (~5 ms per MiB printed) and the diff
GRADING_SECONDS_PER_MIB = 0.5  # per MiB of expected output (~0.25 s measured in the slowest mode)


def grading_seconds(expected_output: str) -> float:
    """The time grading one output against this expected output is allowed in a submission's
    budget: about twice the slowest measured (every token a number written differently)."""
    return GRADING_BASE_SECONDS + GRADING_SECONDS_PER_MIB * len(expected_output) / (1 << 20)


def verdict(status: ExecutionStatus, output: str, expected: str, cmp: Comparison) -> tuple[Verdict, str | None]:
    """(verdict, diff for a wrong answer)."""
    if status != ExecutionStatus.SUCCESS:
        return STATUS_VERDICTS.get(status, Verdict.INTERNAL_ERROR), None
    if matches(output, expected, cmp):
        return Verdict.ACCEPTED, None
    return Verdict.WRONG_ANSWER, short_diff(output, expected, trimmed=cmp.mode != "exact")
