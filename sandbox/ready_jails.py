"""Run jails started ahead of need: what a run stage costs before its program starts, paid while
the worker is idle.

A fresh run stage spends ~20 ms before the program's first instruction: a uid lease, a work dir
mount, a cgroup, nsjail's namespaces and mounts, tini. A ready jail has all of that done ahead,
under the exact limits of the runs it may take: nsjail runs tini, and tini runs jail-exec
(sandbox/helpers/jail-exec.c), which waits on stdin for a command. At the hand-off the worker
places the run's files, writes the command and then the run's stdin, and jail-exec execs the
command in place: the same argv, environment, rlimits, cgroup limits, pid and parent as in a
fresh jail. Wall and CPU time count from the hand-off. Each jail serves one run and is then
destroyed, like any other stage; an unused one is closed after IDLE_SECONDS.

A worker process runs one task at a time, so one ready jail per kind of run (language and
limits) is all its demand can use; it keeps the kinds it ran most recently, up to MAX_KINDS.
"""
from __future__ import annotations

import atexit
import logging
import os
import struct
import threading
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from . import cgroups
from .jail import StageLimits
from .process import ProcessOutcome, collect
from .registry import Language
from .settings import SandboxSettings
from .started_jail import StartedJail
from .uids import UidPool

log = logging.getLogger(__name__)

IDLE_SECONDS = 60.0  # a kind not run for this long is not kept ready
EXPIRE_CHECK_SECONDS = 5.0
MAX_KINDS = 4  # ready jails one worker process keeps at most (each holds a uid, a mount, a cgroup)
MAX_COMMAND_BYTES = 128 * 1024  # longer command lines start a fresh jail (exec's own limits apply there)
EXEC_NAME = ".jail-exec"  # in the work dir until jail-exec starts, which unlinks it at once
BACKSTOP_SECONDS = 10  # nsjail's own wall limit allows for the idle time, on top of the run's


@dataclass(frozen=True)
class RunKind:
    """What a ready jail was started for: it takes only a run of exactly these."""
    language_id: str
    timeout: float
    memory_mb: int
    work_mb: int
    tmp_mb: int
    language: Language = field(compare=False)  # its definition, which the id names


def command_payload(command: list[str]) -> bytes:
    """The command as jail-exec reads it: a 4-byte big-endian length, then NUL-terminated args."""
    payload = b"".join(os.fsencode(arg) + b"\0" for arg in command)
    return struct.pack(">I", len(payload)) + payload


def _place_exec(source: str, work_fd_path: str) -> None:
    """A copy of jail-exec in the still-empty work dir (no jail has started: nothing to follow)."""
    target = os.path.join(work_fd_path, EXEC_NAME)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o555)
    try:
        with open(source, "rb") as binary:
            os.sendfile(fd, binary.fileno(), 0, os.fstat(binary.fileno()).st_size)
    finally:
        os.close(fd)


class ReadyJail(StartedJail):
    """One started run jail: its work dir, cgroup, and jail-exec waiting for the command."""

    def __init__(self, settings: SandboxSettings, layout: cgroups.Layout, kind: RunKind, name: str,
                 uid_pool: UidPool):
        self.kind, self.name = kind, name
        self.last_wanted = time.monotonic()
        with self._starting():
            ids = self._hold(settings, uid_pool, name, kind.work_mb)
            _place_exec(settings.jail_exec, str(self.work.path))
            backstop = IDLE_SECONDS + EXPIRE_CHECK_SECONDS + kind.timeout + BACKSTOP_SECONDS
            stage = StageLimits(backstop, kind.timeout, kind.memory_mb, kind.language.pids, kind.tmp_mb)
            self._launch(settings, layout, kind.language, ids, f"{name}-run", [f"/work/{EXEC_NAME}"], stage)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def hand_off(self, command: list[str], stdin: bytes, limits: StageLimits, output_cap: int, grace: float,
                 stop: threading.Event | None = None) -> tuple[ProcessOutcome, cgroups.Usage]:
        """Runs the command with this stdin (the run's files are in place); usage counts from now."""
        self._to_foreground()
        before = self.cgroup.cpu_seconds()
        log_read, self.log_read = self.log_read, None  # collect closes it
        if log_read is None:
            raise ValueError("a ready jail takes one run")
        outcome = collect(self.proc, command_payload(command) + stdin, log_read, output_cap,
                          limits.wall_seconds + 0.05, grace, stop)
        usage = self.cgroup.usage()
        usage.cpu_seconds = max(0.0, self.cgroup.cpu_seconds() - before)
        outcome.cpu_seconds = usage.cpu_seconds  # nsjail's rusage also holds its own start-up
        return outcome, usage

    def _to_foreground(self) -> None:
        """Out of SCHED_IDLE and the background CPU share before the command is sent: nsjail,
        tini and jail-exec, one thread each (found through /proc: cheaper than the cgroup's
        task lists, and a process missed would only run slower)."""
        self.cgroup.layout.set_background(self.cgroup.name, False)
        pending = [self.proc.pid]
        while pending:
            pid = pending.pop()
            try:
                os.sched_setscheduler(pid, os.SCHED_OTHER, os.sched_param(0))
                with open(f"/proc/{pid}/task/{pid}/children") as children:
                    pending += [int(child) for child in children.read().split()]
            except (ProcessLookupError, FileNotFoundError, PermissionError):
                pass  # gone meanwhile: the run's result says so


class ReadyJails:
    """The ready run jails of one worker process: at most one per kind, MAX_KINDS kinds. One
    thread of its own starts and expires them, its CPU accounted apart from any run's."""

    def __init__(self, settings: SandboxSettings, layout: cgroups.Layout, owner: Callable[[], str],
                 uid_pool: UidPool):
        self.settings, self.layout, self.owner, self.uid_pool = settings, layout, owner, uid_pool
        self.enabled = settings.ready_jails and os.access(settings.jail_exec, os.X_OK)
        self._idle: OrderedDict[RunKind, ReadyJail | None] = OrderedDict()  # None: to start; oldest first
        self._used: list[ReadyJail] = []  # handed a run that has ended: the keeper closes them
        self._lock = threading.Lock()
        self._wake, self._closed = threading.Event(), threading.Event()
        self._keeper: threading.Thread | None = None
        atexit.register(self.close)
        forget = weakref.WeakMethod(self._forget_after_fork)
        os.register_at_fork(after_in_child=lambda: (method := forget()) and method())

    def _forget_after_fork(self) -> None:
        """A forked child starts with no jails: the parent's are its children, not ours, and
        the keeper thread and the lock's state did not come along."""
        self._lock = threading.Lock()
        self._idle, self._used = OrderedDict(), []
        self._wake, self._keeper = threading.Event(), None

    def take(self, kind: RunKind) -> ReadyJail | None:
        with self._lock:
            jail = self._idle.get(kind)
            if jail is None:  # none, or not started yet
                return None
            del self._idle[kind]
        if not jail.alive():
            jail.close()
            return None
        return jail

    def refill(self, kind: RunKind) -> None:
        """Have the next run of this kind's jail started (after this run, under SCHED_IDLE: it
        never competes with a run for the CPU)."""
        if not self.enabled:
            return
        evicted: list[ReadyJail] = []
        with self._lock:
            if self._closed.is_set():
                return
            if kind in self._idle:  # ready or about to start: wanted again
                self._idle.move_to_end(kind)
                if (ready := self._idle[kind]) is not None:
                    ready.last_wanted = time.monotonic()
                return
            while len(self._idle) >= MAX_KINDS:  # the kind run longest ago makes room
                oldest = next((k for k, j in self._idle.items() if j is not None), None)
                if oldest is None:
                    return
                evicted.append(self._idle.pop(oldest))  # type: ignore[arg-type]
            self._idle[kind] = None
            if self._keeper is None:  # started here, in the process that keeps the jails (after any fork)
                self._keeper = threading.Thread(target=self._keep, daemon=True, name="ready-jails")
                self._keeper.start()
        self._wake.set()
        for jail in evicted:
            jail.close()

    def discard(self, jail: ReadyJail) -> None:
        """A jail whose run has ended (its result read): closed by the keeper, so the run's
        result does not wait for the unmount and cgroup removal."""
        with self._lock:
            kept = not self._closed.is_set()
            if kept:
                self._used.append(jail)
        if kept:
            self._wake.set()
        else:
            jail.close()

    def _close_used(self) -> None:
        with self._lock:
            used, self._used = self._used, []
        for jail in used:
            jail.close()

    def expire(self) -> int:
        """Closes the jails of kinds not run for IDLE_SECONDS, and any that died."""
        now = time.monotonic()
        with self._lock:
            stale = [k for k, j in self._idle.items()
                     if j is not None and (now - j.last_wanted > IDLE_SECONDS or not j.alive())]
            jails = [self._idle.pop(k) for k in stale]
        for jail in jails:
            if jail is not None:
                jail.close()
        return len(jails)

    def _keep(self) -> None:
        with self.layout.thread_cpu(self.owner()).measure():  # this thread's CPU is in a group of its own
            while not self._closed.is_set():
                try:
                    self._close_used()
                    self._start_wanted()
                    self.expire()
                except Exception as exc:  # noqa: BLE001 - runs simply start fresh meanwhile
                    log.warning("ready jails: %s", exc)
                self._wake.wait(EXPIRE_CHECK_SECONDS)
                self._wake.clear()

    def _start_wanted(self) -> None:
        while not self._closed.is_set():
            with self._lock:
                kind = next((k for k, j in self._idle.items() if j is None), None)
            if kind is None:
                return
            try:
                name = f"{self.owner()}.ready-{uuid.uuid4().hex[:12]}"
                jail: ReadyJail | None = ReadyJail(self.settings, self.layout, kind, name, self.uid_pool)
            except Exception as exc:  # noqa: BLE001 - the next run of the kind simply starts fresh
                log.warning("could not start a ready %s jail: %s", kind.language_id, exc)
                jail = None
            with self._lock:
                if kind in self._idle and self._idle[kind] is None:
                    if jail is None:
                        del self._idle[kind]
                    else:
                        self._idle[kind], jail = jail, None
            if jail is not None:  # closed meanwhile
                jail.close()

    def idle(self, language_id: str) -> ReadyJail | None:
        """A started jail waiting for a run of this language, if there is one."""
        with self._lock:
            return next((j for k, j in self._idle.items() if j is not None and k.language_id == language_id), None)

    def idle_counts(self) -> dict[str, int]:
        """Started jails waiting for a run, per language."""
        counts: dict[str, int] = {}
        with self._lock:
            for kind, jail in self._idle.items():
                if jail is not None:
                    counts[kind.language_id] = counts.get(kind.language_id, 0) + 1
        return counts

    def count(self) -> int:
        with self._lock:
            return sum(1 for j in self._idle.values() if j is not None)

    def close(self) -> None:
        """Ends every idle jail, after the keeper has finished the one it may be starting."""
        with self._lock:
            self._closed.set()
            keeper = self._keeper
        self._wake.set()
        if keeper is not None and keeper is not threading.current_thread():
            keeper.join(timeout=60)
        with self._lock:
            jails = [j for j in self._idle.values() if j is not None] + self._used
            self._idle.clear()
            self._used = []
        for jail in jails:
            jail.close()
