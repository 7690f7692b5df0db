"""Host uids for jails: every jail runs as a host uid no other jail on the host holds meanwhile.

The jail has no user namespace (like isolate's boxes): its processes are that uid in the host's
own namespace, so what the kernel counts per user — inotify instances and watches, POSIX message
queue bytes, pipe buffer pages, file descriptors in flight over unix sockets, queued signals,
processes — is counted for that jail alone. (In a user namespace created by root, inotify,
message queue and signal counts were charged to root as well, and the rest to one uid shared by
every jail.) One run can use up its own share, never another run's or the host's.

A uid is leased with an flock on <lease dir>/<uid>.lock: the kernel drops the lock when its
holder dies, and threads, pool processes and workers on one host all see the same lock files,
so they never share a uid. A lease is returned only after everything of the jail has ended:
nsjail inherits the lease fd (never passed on into the jail), so a jail that outlives a killed
worker keeps its uid taken until it ends. The holder marks the lock file while it holds it and
clears it on return; a uid whose mark was left by a dead holder is taken only once no process
runs as it any more (a full /proc scan on every lease would cost ~2 ms per 100 processes).
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

from .identity import JailIds, identity
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


HELD_MARK = b"held\n"  # in a lock file while its lease is out; left behind by a holder that died


def _runs_as(uid: int) -> bool:
    """Whether any process has `uid` as its real, effective, saved or filesystem uid."""
    wanted = str(uid).encode()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status", "rb") as status:
                for line in status:
                    if line.startswith(b"Uid:"):
                        if wanted in line.split()[1:]:
                            return True
                        break
        except OSError:  # it ended meanwhile
            continue
    return False


def _usable(fd: int, uid: int) -> bool:
    """A locked uid is handed out unless its last holder died and something still runs as it."""
    if os.pread(fd, len(HELD_MARK), 0) == HELD_MARK and _runs_as(uid):
        return False
    os.pwrite(fd, HELD_MARK, 0)
    return True


def _release(fd: int) -> None:
    os.ftruncate(fd, 0)  # returned in order: the next holder need not scan
    os.close(fd)


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
        self._fds: dict[int, int] = {}  # uid -> lease fd, for the leases this process holds

    def prepare(self) -> None:
        self.range.check()
        prepare_runs_dir(self.lease_dir)  # root-owned, checked like the runs dir

    @contextmanager
    def lease(self) -> Iterator[JailIds]:
        uid, fd = self._acquire()
        try:
            ids = identity(self.lease_dir, uid, fd)
            _write_identity(ids)
            yield ids
        finally:
            with self._lock:
                self._fds.pop(uid, None)
            if fd in _held:  # not in a forked child: it closed its copy at the fork
                _held.discard(fd)
                _release(fd)

    def lease_fd(self, uid: int) -> int | None:
        """The fd of this process's lease on `uid`, or None."""
        with self._lock:
            return self._fds.get(uid)

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
            if not _usable(fd, uid):
                os.close(fd)  # unlocks: a later try looks again
                continue
            _held.add(fd)
            with self._lock:
                self._next = (offset + 1) % self.range.count
                self._fds[uid] = fd
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
