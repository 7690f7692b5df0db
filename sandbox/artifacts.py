"""A compiled program's files, taken out of a finished compile jail and laid into fresh ones.

The compile jail wrote the work dir, so everything in it is hostile: it is read only through
directory fds with O_NOFOLLOW; symlinks, special files and files the jail user (the work dir's
owner) does not own are skipped; the total size and file count are capped. Nothing outside the work dir can be
reached this way.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from . import safefs
from .workdir import write_file

MAX_FILES = 2048


class ArtifactError(RuntimeError):
    """The compile produced more than a program may keep."""


@dataclass(frozen=True)
class ArtifactFile:
    name: str
    content: bytes
    executable: bool


def _read_regular(dir_fd: int, name: str, budget: int, owner: int) -> tuple[bytes, bool] | None:
    with safefs.opened(name, dir_fd) as fd:
        if fd is None:  # a symlink (ELOOP), a FIFO swapped in, gone: not an artifact
            return None
        st = os.fstat(fd)
        # the jail's own files on the run's file system only: a hard link to anything else
        # (possible only where the work dir shares a file system with it) is not an artifact
        if not safefs.own_regular(st, owner, os.fstat(dir_fd).st_dev):
            return None
        if st.st_size > budget:
            raise ArtifactError(f"compiled output is larger than the {budget} bytes left")
        content = safefs.read_upto(fd, st.st_size + 1)
        if len(content) > budget:
            raise ArtifactError("compiled output grew while it was read")
        return content, bool(st.st_mode & 0o111)


def _walk(dir_fd: int, prefix: str, found: list[ArtifactFile], budget: int, owner: int) -> int:
    for name, is_dir, is_file in safefs.entries(dir_fd):
        if len(found) >= MAX_FILES:
            raise ArtifactError(f"compiled output has more than {MAX_FILES} files")
        if is_dir:
            with safefs.opened_dir(name, dir_fd) as sub_fd:
                if sub_fd is not None:
                    budget = _walk(sub_fd, f"{prefix}{name}/", found, budget, owner)
        elif is_file:
            read = _read_regular(dir_fd, name, budget, owner)
            if read is not None:
                found.append(ArtifactFile(prefix + name, read[0], read[1]))
                budget -= len(read[0])
    return budget


def snapshot(path: os.PathLike[str], max_bytes: int) -> tuple[ArtifactFile, ...]:
    """Every regular file below `path` (no symlinks, no devices), at most max_bytes in all."""
    root_fd = os.open(path, safefs.DIR_FLAGS)
    try:
        found: list[ArtifactFile] = []
        _walk(root_fd, "", found, max_bytes, os.fstat(root_fd).st_uid)
        return tuple(found)
    finally:
        os.close(root_fd)


def lay_out(path: os.PathLike[str], files: tuple[ArtifactFile, ...]) -> None:
    """Write the artifacts into a fresh (not yet jailed) work dir."""
    root_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        for item in files:
            write_file(root_fd, item.name, item.content, 0o755 if item.executable else 0o644)
    finally:
        os.close(root_fd)
