"""File names as a run's work dir sees them: one normal form for every API and for the sandbox.

A name is NFC-normalised and written without `.` segments (`./a/./b.py` is `a/b.py`), so two
spellings of one path are one name before any duplicate or file/directory check. Names that
would name no file, escape the work dir, or hide what they are (control, format and
separator characters, spaces other than U+0020, a space at either end of a segment) are refused.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Iterable

MAX_NAME_CHARS = 255  # the whole relative path
MAX_SEGMENT_BYTES = 255  # NAME_MAX: one path segment, in UTF-8 bytes
# Cc control, Cf format (bidi overrides, BOM, zero-width), Cs surrogates, Zl/Zp line and paragraph
# separators, Zs spaces: only U+0020 of those is allowed (NBSP and the like look like it)
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp", "Zs"})
REFUSED_CHARACTERS = frozenset("\\")


class FileNameError(ValueError):
    """A name that cannot be placed in the work dir; `name` is the name as given."""

    def __init__(self, name: str, reason: str):
        super().__init__(f"{name!r} {reason}")
        self.name, self.reason = name, reason


def _refused_character(name: str) -> str | None:
    for char in name:
        if char in REFUSED_CHARACTERS or (char != " " and unicodedata.category(char) in REFUSED_CATEGORIES):
            return char
    return None


def normal_name(name: str) -> str:
    """The name's normal form (NFC, no `.` segments); raises FileNameError if no file may have it."""
    if not isinstance(name, str) or not name or len(name) > MAX_NAME_CHARS:
        raise FileNameError(name, f"must be 1-{MAX_NAME_CHARS} characters")
    char = _refused_character(name)
    if char is not None:
        raise FileNameError(name, f"contains a forbidden character (U+{ord(char):04X} "
                                  f"{unicodedata.name(char, 'unnamed')})")
    if name.startswith("/"):
        raise FileNameError(name, "must be a relative path")
    segments = unicodedata.normalize("NFC", name).split("/")
    if "" in segments:
        raise FileNameError(name, "must not have empty segments ('//' or a trailing '/')")
    if ".." in segments:
        raise FileNameError(name, "must not contain '..'")
    segments = [s for s in segments if s != "."]
    if not segments:
        raise FileNameError(name, "names no file")
    for segment in segments:
        if segment != segment.strip(" "):
            raise FileNameError(name, "has a segment that starts or ends with a space")
        if len(segment.encode()) > MAX_SEGMENT_BYTES:
            raise FileNameError(name, f"has a segment longer than {MAX_SEGMENT_BYTES} bytes")
    normal = "/".join(segments)
    if len(normal) > MAX_NAME_CHARS:  # NFC lengthens a few characters (U+0958 is two in NFC)
        raise FileNameError(name, f"must be 1-{MAX_NAME_CHARS} characters")
    return normal


def check_layout(names: Iterable[str]) -> None:
    """Names that can all be placed in one directory tree, once normalised: none twice, and none
    a file where another needs a directory. Raises FileNameError naming the later one as given."""
    given: dict[str, str] = {}  # normal form -> the name as given
    for name in names:
        normal = normal_name(name)
        if normal in given:
            raise FileNameError(name, f"is given more than once (also as {given[normal]!r})"
                                if given[normal] != name else "is given more than once")
        given[normal] = name
    for normal, name in given.items():
        parts = normal.split("/")
        for depth in range(1, len(parts)):
            parent = given.get("/".join(parts[:depth]))
            if parent is not None:
                raise FileNameError(name, f"needs {parent!r} to be a directory, but it is a file")
