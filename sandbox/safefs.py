"""Reading what a jail wrote, without trusting it: every open is relative to a directory fd and
refuses symlinks (O_NOFOLLOW) and blocking opens (O_NONBLOCK: a FIFO never stalls the worker);
what is read is checked by fstat on the opened fd, never by a path looked up again."""
from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@contextmanager
def opened(name: str, dir_fd: int | None = None, flags: int = READ_FLAGS) -> Iterator[int | None]:
    """The fd of `name` below dir_fd, or None when it cannot be opened so (a symlink: ELOOP;
    gone; a socket: ENXIO); closed on leaving."""
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except OSError:
        yield None
        return
    try:
        yield fd
    finally:
        os.close(fd)


def opened_dir(name: str, dir_fd: int | None = None) -> AbstractContextManager[int | None]:
    """Like `opened`, for a directory (a symlink to one is refused)."""
    return opened(name, dir_fd, DIR_FLAGS)


def own_regular(st: os.stat_result, owner: int, dev: int, single_link: bool = False) -> bool:
    """A regular file of the jail user's own on the run's file system; with single_link, one no
    other name points to (a hard link could name a file the jail user may not read)."""
    return (stat.S_ISREG(st.st_mode) and st.st_uid == owner and st.st_dev == dev
            and (not single_link or st.st_nlink == 1))


def read_upto(fd: int, size: int) -> bytes:
    """At most `size` bytes from fd's start: a file that grows meanwhile is cut, never read past."""
    chunks, left = [], size
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def entries(dir_fd: int) -> list[tuple[str, bool, bool]]:
    """(name, is a directory, is a regular file) of each entry, by name; symlinks are neither."""
    with os.scandir(dir_fd) as found:
        return sorted((e.name, e.is_dir(follow_symlinks=False), e.is_file(follow_symlinks=False)) for e in found)
