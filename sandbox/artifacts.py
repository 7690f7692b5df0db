"""A compiled program's files, taken out of a finished compile jail and laid into fresh ones.

The compile jail wrote the work dir, so everything in it is hostile: it is read only through
directory fds with O_NOFOLLOW; symlinks, special files and files the jail user (the work dir's
owner) does not own are skipped; the total size and file count are capped. Nothing outside the work dir can be
reached this way.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass

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
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError:  # a symlink (ELOOP), a FIFO swapped in, gone: not an artifact
        return None
    try:
        st = os.fstat(fd)
        # the jail's own files on the run's file system only: a hard link to anything else
        # (possible only where the work dir shares a file system with it) is not an artifact
        if not stat.S_ISREG(st.st_mode) or st.st_uid != owner or st.st_dev != os.fstat(dir_fd).st_dev:
            return None
        if st.st_size > budget:
            raise ArtifactError(f"compiled output is larger than the {budget} bytes left")
        chunks, left = [], st.st_size + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        content = b"".join(chunks)
        if len(content) > budget:
            raise ArtifactError("compiled output grew while it was read")
        return content, bool(st.st_mode & 0o111)
    finally:
        os.close(fd)


def _walk(dir_fd: int, prefix: str, found: list[ArtifactFile], budget: int, owner: int) -> int:
    with os.scandir(dir_fd) as entries:
        names = sorted((e.name, e.is_dir(follow_symlinks=False), e.is_file(follow_symlinks=False)) for e in entries)
    for name, is_dir, is_file in names:
        if len(found) >= MAX_FILES:
            raise ArtifactError(f"compiled output has more than {MAX_FILES} files")
        if is_dir:
            try:
                sub_fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
            except OSError:
                continue
            try:
                budget = _walk(sub_fd, f"{prefix}{name}/", found, budget, owner)
            finally:
                os.close(sub_fd)
        elif is_file:
            read = _read_regular(dir_fd, name, budget, owner)
            if read is not None:
                found.append(ArtifactFile(prefix + name, read[0], read[1]))
                budget -= len(read[0])
    return budget


def snapshot(path: os.PathLike[str], max_bytes: int) -> tuple[ArtifactFile, ...]:
    """Every regular file below `path` (no symlinks, no devices), at most max_bytes in all."""
    root_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
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
