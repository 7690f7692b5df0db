"""Grading one run against a test's expected output: verdicts from run statuses and comparisons,
and a short diff for a wrong answer. Both work in time linear in the texts (tasks/compare.py,
tasks/diff.py): grading runs in the worker, outside the jail and its limits."""
from __future__ import annotations

from .compare import COMPARE_MODES, Comparison, matches
from .diff import short_diff

__all__ = ["COMPARE_MODES", "VERDICTS", "Comparison", "grading_seconds", "matches", "short_diff", "verdict"]

VERDICTS = ("accepted", "wrong_answer", "timeout", "memory_limit", "runtime_error", "compile_error",
            "output_limit", "internal_error")
# run status -> verdict, for runs that did not end normally
STATUS_VERDICTS = {"error": "runtime_error", "timeout": "timeout", "memory_limit": "memory_limit",
                   "output_limit": "output_limit", "compile_error": "compile_error",
                   "internal_error": "internal_error"}
# Grading reads the expected output line by line or token by token, and the output only as far as
# it matches (plus C-speed passes over it): its time is about linear in the expected output.
GRADING_BASE_SECONDS = 0.05  # the output's C-speed passes (~5 ms per MiB printed) and the diff
GRADING_SECONDS_PER_MIB = 0.5  # per MiB of expected output (~0.25 s measured in the slowest mode)


def grading_seconds(expected_output: str) -> float:
    """The time grading one output against this expected output is allowed in a submission's
    budget: about twice the slowest measured (every token a number written differently)."""
    return GRADING_BASE_SECONDS + GRADING_SECONDS_PER_MIB * len(expected_output) / (1 << 20)


def verdict(status: str, output: str, expected: str, cmp: Comparison) -> tuple[str, str | None]:
    """(verdict, diff for a wrong answer)."""
    if status != "success":
        return STATUS_VERDICTS.get(status, "internal_error"), None
    if matches(output, expected, cmp):
        return "accepted", None
    return "wrong_answer", short_diff(output, expected, trimmed=cmp.mode != "exact")
