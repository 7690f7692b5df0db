"""Grading one run against a test's expected output: comparison modes, verdicts and a short diff."""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass

COMPARE_MODES = ("exact", "trim", "tokens", "float")
VERDICTS = ("accepted", "wrong_answer", "timeout", "memory_limit", "runtime_error", "compile_error",
            "output_limit", "internal_error")
# run status -> verdict, for runs that did not end normally
STATUS_VERDICTS = {"error": "runtime_error", "timeout": "timeout", "memory_limit": "memory_limit",
                   "output_limit": "output_limit", "compile_error": "compile_error",
                   "internal_error": "internal_error"}
DIFF_LINES = 12
DIFF_LINE_CHARS = 200


@dataclass(frozen=True)
class Comparison:
    mode: str = "trim"
    abs_tol: float = 1e-6
    rel_tol: float = 1e-6


def _trimmed_lines(text: str) -> list[str]:
    """Judge0's rule: trailing whitespace on each line and trailing blank lines do not count."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _number(token: str) -> float | None:
    try:
        return float(token)
    except ValueError:
        return None


def _close(got: str, expected: str, cmp: Comparison) -> bool:
    if got == expected:
        return True
    a, b = _number(got), _number(expected)
    if a is None or b is None:
        return False
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=cmp.rel_tol, abs_tol=cmp.abs_tol)


def matches(output: str, expected: str, cmp: Comparison) -> bool:
    if cmp.mode == "exact":
        return output == expected
    if cmp.mode == "trim":
        return _trimmed_lines(output) == _trimmed_lines(expected)
    got, want = output.split(), expected.split()
    if cmp.mode == "tokens":
        return got == want
    return len(got) == len(want) and all(_close(g, w, cmp) for g, w in zip(got, want))


def _clip(line: str) -> str:
    return line if len(line) <= DIFF_LINE_CHARS else line[:DIFF_LINE_CHARS] + "…"


def short_diff(output: str, expected: str) -> str:
    """The first differing lines as a small unified diff (expected → got)."""
    diff = difflib.unified_diff(
        [_clip(line) for line in expected.replace("\r\n", "\n").split("\n")],
        [_clip(line) for line in output.replace("\r\n", "\n").split("\n")],
        fromfile="expected", tofile="got", n=1, lineterm="",
    )
    lines = list(diff)
    if not lines:  # equal line by line: the difference is in whitespace or line endings
        return "outputs differ only in whitespace or line endings"
    more = len(lines) > DIFF_LINES
    return "\n".join(lines[:DIFF_LINES] + (["…"] if more else []))


def verdict(status: str, output: str, expected: str, cmp: Comparison) -> tuple[str, str | None]:
    """(verdict, diff for a wrong answer)."""
    if status != "success":
        return STATUS_VERDICTS.get(status, "internal_error"), None
    if matches(output, expected, cmp):
        return "accepted", None
    return "wrong_answer", short_diff(output, expected)
