"""Class-data archives (AppCDS) for warm compilers, made in a compile jail on first use.

A `warm_compile` command may start from `-XX:SharedArchiveFile=<path in the jail>/<name>-warm.jsa`,
under one of its language's binds (kotlinc: about half the warm-up's CPU). JDK 17 only takes an
archive made with the very class path the JVM runs with, and those paths exist only in a jail; so
the worker makes the archive in a jail like a warm-up's: the same command, dumping its loaded
classes at exit into the jail's /work, fed an empty stdin so it compiles nothing but its own
throw-away program. No user code has run in that jail. The archive is then copied out and
renamed into place (read-only in every jail after it); a missing or stale one is simply not used.
"""
from __future__ import annotations

import fcntl
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .registry import Language

ARCHIVE_FLAG = "-XX:SharedArchiveFile="
SUFFIX = "-warm.jsa"  # only archives of this name are the worker's to make (javac's: `make toolchains`)
DUMP_NAME = "warm.jsa"
DUMP_WORK_MB = 256  # the archive is written in the jail's work dir (kotlinc's: ~80 MB)
DUMP_SECONDS = 300  # the warm-up plus writing the archive, at idle priority
MAX_ARCHIVE_BYTES = DUMP_WORK_MB << 20


@dataclass(frozen=True)
class WarmArchive:
    host_path: Path
    flag: str  # as the warm_compile command gives it

    def dump_command(self, command: tuple[str, ...]) -> tuple[str, ...]:
        """The warm-up command, writing the archive into /work at exit instead of reading one."""
        return tuple(f"-XX:ArchiveClassesAtExit=/work/{DUMP_NAME}" if arg == self.flag else arg for arg in command)


def archive_of(lang: Language) -> WarmArchive | None:
    """The archive the language's warm compiler starts from, if it is one the worker makes."""
    for arg in lang.warm_compile:
        if not (arg.startswith(ARCHIVE_FLAG) and arg.endswith(SUFFIX)):
            continue
        inside = arg[len(ARCHIVE_FLAG):]
        for bind in lang.binds:
            host, _, jail = bind.partition(":")
            prefix = jail.rstrip("/") + "/"
            if jail and inside.startswith(prefix):
                return WarmArchive(Path(host) / inside[len(prefix):], arg)
    return None


def is_current(archive: WarmArchive, lang: Language) -> bool:
    """Present and newer than the compiler and JVM it was made from (the JVM ignores a stale one)."""
    try:
        made = archive.host_path.stat().st_mtime
    except OSError:
        return False
    for path in (*lang.requires, *lang.warm_requires):
        try:
            if os.stat(path).st_mtime > made:
                return False
        except OSError:
            pass
    return True


@contextmanager
def making(archive: WarmArchive) -> Iterator[bool]:
    """Whether this process is the one to make it now: one process on the host at a time."""
    archive.host_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(f"{archive.host_path}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def install(work: Path, archive: WarmArchive) -> None:
    """Copies the dumped archive out of the jail's work dir (a regular file, never a link) and
    renames it into place."""
    fd = os.open(work / DUMP_NAME, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    temp = archive.host_path.with_name(f".{archive.host_path.name}.{os.getpid()}")
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or not 0 < info.st_size <= MAX_ARCHIVE_BYTES:
            raise OSError(f"not an archive: {info.st_size} bytes, mode {info.st_mode:o}")
        with open(fd, "rb", closefd=False) as source, open(temp, "wb") as target:
            while chunk := source.read(1 << 20):
                target.write(chunk)
        temp.chmod(0o644)
        os.replace(temp, archive.host_path)
    finally:
        os.close(fd)
        temp.unlink(missing_ok=True)
