"""Comparing a run's output with the expected output, in time linear in their sizes and with
bounded extra memory: texts are cut into blocks at line or token boundaries and the two sides
are compared as streams, by C-level iterators; no whole-text list of lines or tokens is built."""
from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from itertools import chain, compress, count, islice, starmap, zip_longest

COMPARE_MODES = ("exact", "trim", "tokens", "float")
BLOCK_CHARS = 1 << 16  # how much of a text is split into lines or tokens at a time
FLOAT_BATCH = 4096  # tokens compared as one list before looking at them one by one
_WHITESPACE = re.compile(r"\s")  # the characters str.split() splits on
_MISSING = object()  # stands for the lines or tokens after the end of the shorter side


@dataclass(frozen=True)
class Comparison:
    mode: str = "trim"
    abs_tol: float = 1e-6
    rel_tol: float = 1e-6


def _blocks(text: str, boundary: Callable[[str, int, int], int]) -> Iterator[str]:
    """text in pieces of about BLOCK_CHARS, each ending before a separator (which is dropped); a
    text ending in a separator ends with an empty piece, as str.split(separator) ends."""
    start, end = 0, len(text)
    while start <= end:
        cut = boundary(text, min(start + BLOCK_CHARS, end), end)
        yield text[start:cut]
        start = cut + 1


def _next_newline(text: str, start: int, end: int) -> int:
    found = text.find("\n", start, end)
    return end if found < 0 else found


def _next_whitespace(text: str, start: int, end: int) -> int:
    found = _WHITESPACE.search(text, start, end)
    return end if found is None else found.start()


def lines(text: str) -> Iterator[str]:
    """The lines of text, as text.split("\\n") gives them."""
    return chain.from_iterable(block.split("\n") for block in _blocks(text, _next_newline))


def trimmed_lines(text: str) -> Iterator[str]:
    """Judge0's rule: trailing whitespace on each line (\\r of CRLF too) and trailing blank lines do not count."""
    return map(str.rstrip, lines(text.rstrip()))


def tokens(text: str) -> Iterator[str]:
    """The whitespace-separated tokens, as str.split() gives them."""
    return chain.from_iterable(map(str.split, _blocks(text, _next_whitespace)))


def first_difference(got: Iterable[object], want: Iterable[object]) -> int | None:
    """The index of the first item that differs (one side ending counts), None when all are equal."""
    differs = starmap(operator.ne, zip_longest(got, want, fillvalue=_MISSING))
    return next(compress(count(), differs), None)


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


def _numbers_close(mine: list[str], theirs: list[str], cmp: Comparison) -> bool:
    """Tokens of equal-length batches pairwise close: all converted and compared at C speed when all
    are numbers and none is NaN, else one pair at a time."""
    try:
        a, b = list(map(float, mine)), list(map(float, theirs))
    except ValueError:  # words among the numbers
        a = b = []
    isclose = partial(math.isclose, rel_tol=cmp.rel_tol, abs_tol=cmp.abs_tol)
    if a and all(map(isclose, a, b)):
        return True
    return all(map(partial(_close, cmp=cmp), mine, theirs))


def _floats_match(got: Iterator[str], want: Iterator[str], cmp: Comparison) -> bool:
    """Tokens compared a batch at a time; only a batch that differs as text is compared as numbers."""
    while True:
        mine, theirs = list(islice(got, FLOAT_BATCH)), list(islice(want, FLOAT_BATCH))
        if len(mine) != len(theirs):
            return False
        if not mine:
            return True
        if mine != theirs and not _numbers_close(mine, theirs, cmp):
            return False


def matches(output: str, expected: str, cmp: Comparison) -> bool:
    if cmp.mode == "exact":
        return output == expected
    if cmp.mode == "trim":
        return first_difference(trimmed_lines(output), trimmed_lines(expected)) is None
    if cmp.mode == "tokens":
        return first_difference(tokens(output), tokens(expected)) is None
    return _floats_match(tokens(output), tokens(expected), cmp)
