"""Host uids for jails: every jail runs as a host uid no other jail on the host holds meanwhile.

The jail has no user namespace (like isolate's boxes): its processes are that uid in the host's
own namespace, so what the kernel counts per user — inotify instances and watches, POSIX message
queue bytes, pipe buffer pages, file descriptors in flight over unix sockets, queued signals,
processes — is counted for that jail alone. (In a user namespace created by root, inotify,
message queue and signal counts were charged to root as well, and the rest to one uid shared by
every jail.) One run can use up its own share, never another run's or the host's.

A uid is leased with an flock on <lease dir>/<uid>.lock: the kernel drops the lock when its
holder dies, and threads, pool processes and workers on one host all see the same lock files,
so they never share a uid. A lease is returned only after everything of the jail has ended.
"""
from __future__ import annotations

import fcntl
import grp
import os
import pwd
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .workdir import prepare_runs_dir

LEASE_WAIT_SECONDS = 10.0  # how long a start waits for a uid when every one is leased
NOBODY = 65534


class UidPoolError(RuntimeError):
    """The uid range is unusable, or no uid came free in time."""


@dataclass(frozen=True)
class UidRange:
    first: int
    count: int

    def __contains__(self, uid: int) -> bool:
        return self.first <= uid < self.first + self.count

    def check(self) -> None:
        """Never root, never an id the host already uses (its files would open to jails)."""
        if self.count < 1 or self.first < 1 or self.first + self.count > 2**32 - 1:
            raise UidPoolError(f"jail uid range {self}: must be 1 or more ids between 1 and 2^32-2")
        taken = sorted({f"user {p.pw_name}" for p in pwd.getpwall() if p.pw_uid in self}
                       | {f"group {g.gr_name}" for g in grp.getgrall() if g.gr_gid in self}
                       | ({"nobody"} if NOBODY in self else set()))
        if taken:
            raise UidPoolError(f"jail uid range {self.first}-{self.first + self.count - 1} overlaps "
                               f"ids the host uses: {', '.join(taken[:5])}")


@dataclass(frozen=True)
class JailIds:
    """A jail's host uid and gid (the same number), and its /etc/passwd and /etc/group."""
    uid: int
    passwd: Path
    group: Path

    @property
    def gid(self) -> int:
        return self.uid


def identity(lease_dir: Path, uid: int) -> JailIds:
    return JailIds(uid, lease_dir / f"{uid}.passwd", lease_dir / f"{uid}.group")


_held: set[int] = set()  # lease fds this process holds


def _forget_inherited() -> None:
    """A forked child closes the lease fds it inherited: closing (never unlocking) leaves the
    parent's leases in place, and a child that lives on cannot keep them taken."""
    for fd in list(_held):
        try:
            os.close(fd)
        except OSError:
            pass
    _held.clear()


os.register_at_fork(after_in_child=_forget_inherited)


class UidPool:
    def __init__(self, uid_range: UidRange, lease_dir: Path):
        self.range, self.lease_dir = uid_range, lease_dir
        self._next = random.randrange(uid_range.count)  # spread: a just-returned uid is taken last
        self._lock = threading.Lock()

    def prepare(self) -> None:
        self.range.check()
        prepare_runs_dir(self.lease_dir)  # root-owned, checked like the runs dir

    @contextmanager
    def lease(self) -> Iterator[JailIds]:
        uid, fd = self._acquire()
        try:
            ids = identity(self.lease_dir, uid)
            _write_identity(ids)
            yield ids
        finally:
            _held.discard(fd)
            os.close(fd)

    def _acquire(self) -> tuple[int, int]:
        give_up_at, pause = time.monotonic() + LEASE_WAIT_SECONDS, 0.01
        while True:
            taken = self._try_each()
            if taken is not None:
                return taken
            if time.monotonic() + pause > give_up_at:
                raise UidPoolError(f"all {self.range.count} jail uids are in use")
            time.sleep(pause)
            pause = min(pause * 2, 0.5)

    def _try_each(self) -> tuple[int, int] | None:
        with self._lock:
            start = self._next
        for step in range(self.range.count):
            offset = (start + step) % self.range.count
            uid = self.range.first + offset
            fd = os.open(self.lease_dir / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            _held.add(fd)
            with self._lock:
                self._next = (offset + 1) % self.range.count
            return uid, fd
        return None


def _write_identity(ids: JailIds) -> None:
    """The leased uid's passwd and group files (written once; only a lease holder writes them)."""
    for path, line in ((ids.passwd, f"sandbox:x:{ids.uid}:{ids.gid}:sandbox:/work:/bin/sh\n"),
                       (ids.group, f"sandbox:x:{ids.gid}:\n")):
        if os.path.exists(path):
            continue
        partial = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
        os.replace(partial, path)
