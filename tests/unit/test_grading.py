"""Comparison modes and verdicts (pure functions)."""
import time

import pytest

from tasks.diff import DIFF_LINES
from tasks.grading import Comparison, grading_seconds, matches, short_diff, verdict

TRIM, EXACT, TOKENS = Comparison("trim"), Comparison("exact"), Comparison("tokens")


@pytest.mark.parametrize("output, expected, cmp, same", [
    ("1\r\n2\r\n", "1\n2\n", TRIM, True),             # CRLF
    ("1\r\n2\r\n", "1\n2\n", EXACT, False),
    ("42", "42\n", TRIM, True),                       # missing trailing newline
    ("42", "42\n", EXACT, False),
    ("a  \nb\t\n\n\n", "a\nb", TRIM, True),           # trailing whitespace and blank lines
    ("  a\n", "a\n", TRIM, False),                    # leading whitespace counts
    ("a\n\nb\n", "a\nb\n", TRIM, False),              # inner blank lines count
    ("", "", TRIM, True),                             # empty output
    ("", "\n\n", TRIM, True),
    ("", "0\n", TRIM, False),
    ("héllo 世界 🙂\n", "héllo 世界 🙂", TRIM, True),     # Unicode
    ("e\u0301\n", "é\n", TRIM, False),                # no normalization: different code points
    ("1   2\n3", "1 2 3\n", TOKENS, True),
    ("1 2", "1 2 3", TOKENS, False),
])
def test_text_modes(output, expected, cmp, same):
    assert matches(output, expected, cmp) is same


@pytest.mark.parametrize("output, expected, abs_tol, rel_tol, same", [
    ("0.1000001", "0.1", 1e-6, 0, True),
    ("0.100002", "0.1", 1e-6, 0, False),
    ("1000001", "1000000", 0, 1e-6, True),
    ("1000010", "1000000", 0, 1e-6, False),
    ("2e3 x", "2000 x", 1e-9, 0, True),               # words must match exactly
    ("2e3 y", "2000 x", 1e-9, 0, False),
    ("nan inf -inf", "NaN inf -inf", 0, 0, True),
    ("inf", "-inf", 1, 1, False),
    ("1 2", "1 2 3", 1, 1, False),
    ("-0.0", "0", 0, 0, True),
])
def test_float_mode(output, expected, abs_tol, rel_tol, same):
    assert matches(output, expected, Comparison("float", abs_tol, rel_tol)) is same


def test_verdicts_from_run_status():
    assert verdict("success", "3\n", "3", TRIM) == ("accepted", None)
    assert verdict("error", "3\n", "3", TRIM) == ("runtime_error", None)
    for status in ("timeout", "memory_limit", "output_limit", "compile_error", "internal_error"):
        assert verdict(status, "", "", TRIM) == (status, None)
    graded, diff = verdict("success", "1\n2\nX\n4\n", "1\n2\n3\n4\n", TRIM)
    assert graded == "wrong_answer" and "-3" in diff and "+X" in diff


def test_diff_is_short():
    diff = short_diff("\n".join(str(i) for i in range(1000)), "\n".join(str(-i) for i in range(1000)))
    assert len(diff.splitlines()) <= 13 and diff.endswith("…")
    assert len(short_diff("x" * 10000, "y")) < 600
    assert short_diff("a\r\n", "a\n") == "outputs differ only in whitespace or line endings"
    assert {"-a", "+a "} <= set(short_diff("a \n", "a\n").splitlines())


# grading runs in the worker, outside the jail: it must stay linear whatever the texts are

MB = 2 << 20  # each side: twice the default output and expected-output limits (an operator may raise them)


def _lines(count: int, value) -> str:
    return "".join(f"{value(i)}\n" for i in range(count))


def _other_sequences() -> tuple[str, str]:
    """Two-digit lines in two different orders, each line under difflib's 1% "popular" cut: a unified
    diff of the whole texts takes time quadratic in their lines (minutes)."""
    count = MB // 3
    return _lines(count, lambda i: f"{i % 100:02d}"), _lines(count, lambda i: f"{i * 7 % 100:02d}")


LARGE_TEXTS = {
    "other sequences": _other_sequences,
    "last line differs": lambda: ("12\n" * (MB // 3 - 1) + "13\n", "12\n" * (MB // 3)),
    "early insertion": lambda: ("x\n" + "12\n" * (MB // 3), "12\n" * (MB // 3)),
    "one long line": lambda: ("w" * MB + "x", "w" * (MB + 1)),
    "blank lines and spaces": lambda: (" \n" * (MB // 2) + "a", "\n" * (MB // 2) + "b"),
    "tokens on one line": lambda: ("1 " * (MB // 2) + "3", "1 " * (MB // 2) + "2"),
}


@pytest.mark.parametrize("mode", ["exact", "trim", "tokens", "float"])
@pytest.mark.parametrize("case", LARGE_TEXTS)
def test_large_wrong_answers_grade_in_bounded_time(mode, case):
    output, expected = LARGE_TEXTS[case]()
    started = time.process_time()
    graded, diff = verdict("success", output, expected, Comparison(mode))
    spent = time.process_time() - started
    assert graded == "wrong_answer" and spent < 1.0, (case, mode, spent)  # CPU seconds: linear work stays well under it
    assert len(diff) < 4000 and len(diff.splitlines()) <= DIFF_LINES + 1, diff


@pytest.mark.parametrize("mode, same", [("exact", False), ("trim", True), ("tokens", True), ("float", True)])
def test_large_accepted_outputs_grade_in_bounded_time(mode, same):
    expected = _lines(MB // 8, lambda i: f"{i % 1000:7d}")
    output = expected.replace("\n", "  \r\n")  # CRLF and trailing spaces: a full pass in every mode
    started = time.process_time()
    graded, _ = verdict("success", output, expected, Comparison(mode))
    spent = time.process_time() - started
    assert (graded == "accepted") is same and spent < 1.0, (mode, spent)


@pytest.mark.parametrize("mode", ["exact", "trim", "tokens", "float"])
def test_grading_fits_the_time_the_batch_budget_allows(mode):
    """The slowest texts to compare: every token a number written differently (float compares each)."""
    expected = "1 " * (MB // 2)
    output = "1.0 " * (MB // 2)
    started = time.process_time()
    verdict("success", output, expected, Comparison(mode))
    assert time.process_time() - started < grading_seconds(expected)
