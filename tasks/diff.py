"""The short diff shown for a wrong answer. difflib takes time quadratic in what it is given, so it
is given only a window of clipped lines from just before the first differing line."""
from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator
from itertools import islice

from .compare import first_difference, lines, trimmed_lines

DIFF_LINES = 12
DIFF_LINE_CHARS = 200
CONTEXT = 1  # unchanged lines shown around a change
WINDOW_LINES = 4 * DIFF_LINES  # lines of each side diffed, from CONTEXT lines before the first difference
_HUNK = re.compile(r"^@@ -(\d+)(,\d+)? \+(\d+)(,\d+)? @@$")


def _clip(line: str) -> str:
    return line if len(line) <= DIFF_LINE_CHARS else line[:DIFF_LINE_CHARS] + "…"


def _window(numbered: Iterator[str], start: int) -> tuple[list[str], bool]:
    """WINDOW_LINES clipped lines from start, and whether the text goes on after them."""
    taken = [_clip(line) for line in islice(numbered, start, start + WINDOW_LINES + 1)]
    return taken[:WINDOW_LINES], len(taken) > WINDOW_LINES


def _aligned(want: list[str], got: list[str]) -> tuple[list[str], list[str]]:
    """Windows cut at the same length make a false difference at their end when one side has lines
    inserted or deleted (the partners of the last lines fall outside the other window): stop both
    at the last lines they share after the first difference."""
    blocks = difflib.SequenceMatcher(None, want, got, autojunk=False).get_matching_blocks()[:-1]
    if not blocks or (blocks[-1].a, blocks[-1].b) == (0, 0):  # nothing shared after the difference
        return want, got
    last = blocks[-1]
    return want[:last.a + last.size], got[:last.b + last.size]


def _renumbered(line: str, offset: int) -> str:
    """A hunk header of the window, numbered as lines of the whole text."""
    found = _HUNK.match(line)
    if not found:
        return line
    want, want_len, got, got_len = found.groups()
    return f"@@ -{int(want) + offset}{want_len or ''} +{int(got) + offset}{got_len or ''} @@"


def short_diff(output: str, expected: str, trimmed: bool = False) -> str:
    """The first differing lines as a small unified diff (expected → got). trimmed: lines are
    compared and shown without trailing whitespace, and trailing blank lines do not count."""
    numbered: Callable[[str], Iterator[str]] = trimmed_lines if trimmed else lines
    output, expected = output.replace("\r\n", "\n"), expected.replace("\r\n", "\n")
    first = first_difference(numbered(expected), numbered(output))
    if first is None:  # equal line by line: the difference is in whitespace or line endings
        return "outputs differ only in whitespace or line endings"
    start = max(0, first - CONTEXT)
    (want, want_cut), (got, got_cut) = _window(numbered(expected), start), _window(numbered(output), start)
    if want_cut or got_cut:
        want, got = _aligned(want, got)
    diff = [_renumbered(line, start) for line in difflib.unified_diff(
        want, got, fromfile="expected", tofile="got", n=CONTEXT, lineterm="")]
    if not diff:
        return f"line {first + 1} differs after its first {DIFF_LINE_CHARS} characters"
    more = len(diff) > DIFF_LINES
    return "\n".join(diff[:DIFF_LINES] + (["…"] if more else []))
