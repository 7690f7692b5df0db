"""Reading and writing cgroup files: the helpers every part of the cgroups package shares."""
from __future__ import annotations

import os
from pathlib import Path


def read_text(path: Path) -> str:
    """The file's text, or "" when it cannot be read (a cgroup may vanish at any moment)."""
    try:
        return path.read_text()
    except OSError:
        return ""


def read_int(path: Path) -> int:
    """A one-number cgroup file; 0 when it is missing or empty."""
    return int(read_text(path).strip() or 0)


def keyed_counts(text: str) -> dict[str, int]:
    """The integer values of a 'key value' per line file (memory.events, cpu.stat, ...)."""
    pairs = (line.split() for line in text.splitlines())
    return {p[0]: int(p[1]) for p in pairs if len(p) == 2 and p[1].lstrip("-").isdigit()}


def eventfd_count(fd: int | None) -> int:
    """Events signalled on a non-blocking eventfd since the last read (0 without one)."""
    if fd is None:
        return 0
    try:
        return os.eventfd_read(fd)
    except BlockingIOError:
        return 0


def write_text(path: Path, value: str) -> None:
    with open(path, "w") as fh:
        fh.write(value)
