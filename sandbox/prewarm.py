"""Compile jails started ahead of need, for languages whose compiler is slow to start (`warm_compile`).

A JVM compiler spends most of a small compile loading and warming itself (javac: ~0.4 s cold,
~0.03 s warm). So after a compile, the worker starts the next one's jail in the background:
fresh work dir, fresh cgroup with the compile limits, nsjail as always, and in it the compiler,
which warms up on a throw-away program and then waits for one compile command on stdin. The
next compile of that language is handed to it; its wall and CPU time count from the hand-off.
Each jail serves exactly one compile and is then destroyed, like any other stage: nothing of
one user's compile is seen by another's.
"""
from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack

from . import cgroups, workdir
from .jail import StageLimits, expand, jail_command
from .process import ProcessOutcome, collect, start_process
from .registry import CompileLimits, Language
from .settings import SandboxSettings
from .uids import UidPool

log = logging.getLogger(__name__)

IDLE_SECONDS = 300.0  # an unused jail is replaced after this: a compiler is not left idling forever
RENEW_CHECK_SECONDS = 5.0  # how often expired or dead idle jails are looked for and replaced
WARM_UP_SECONDS = 30  # nsjail's own wall and CPU backstops allow for the warm-up, on top of the compile's


def _idle_priority() -> list[str]:
    """chrt starts nsjail, and so the warming compiler, under SCHED_IDLE: a run that wants the
    CPU preempts it at once (cpu.shares alone still let a JVM warm-up slow runs ~2x). Every
    thread is set back to normal scheduling at the hand-off."""
    chrt = next((p for p in ("/usr/bin/chrt", "/bin/chrt") if os.access(p, os.X_OK)), None)
    return [chrt, "--idle", "0"] if chrt else []


class WarmJail:
    """One started compile jail: its work dir, cgroup and the waiting compiler, with the compile
    limits it was started for (the language's, clamped by a tier): it takes only a compile of those."""

    def __init__(self, settings: SandboxSettings, layout: cgroups.Layout, lang: Language, name: str, work_mb: int,
                 limits: CompileLimits, uid_pool: UidPool):
        self.lang, self.name, self.work_mb, self.limits = lang, name, work_mb, limits
        self.expires_at = time.monotonic() + IDLE_SECONDS
        self.log_read: int | None = None
        self._stack = ExitStack()
        try:
            ids = self._stack.enter_context(uid_pool.lease())  # held until the jail is gone (closed last)
            self.work = self._stack.enter_context(workdir.Workdir(settings.runs_dir, name, work_mb, ids))
            self.cgroup = cgroups.RunCgroup(layout, f"{name}-compile")
            memory_bytes = limits.memory_mb << 20
            self._stack.callback(self.cgroup.destroy)
            self.cgroup.create(memory_bytes, limits.pids)
            self.cgroup.set_background(True)  # warming up must not slow down the runs going on
            backstop = IDLE_SECONDS + limits.timeout + WARM_UP_SECONDS
            stage = StageLimits(backstop, backstop, limits.memory_mb, limits.pids, limits.tmp_mb)
            self.log_read, log_write = os.pipe()
            command = expand(lang.warm_compile, lang, limits.memory_mb)  # its heap sized for these limits
            join, home = self.cgroup.own_cpu_paths()
            with jail_command(settings, lang, ids, self.work.path, command, stage, log_write,
                              self.cgroup.nsjail_flags(memory_bytes, limits.pids)) as (argv, inherited):
                self.proc = start_process(_idle_priority() + argv, log_write, self.log_read, tuple(join), home,
                                          inherited)
        except BaseException:
            self.log_read = None  # start_process closed it, or the pipe never existed
            self._stack.close()
            raise
        self._stack.callback(self._stop)

    def usable(self, lang: Language, work_mb: int, limits: CompileLimits) -> bool:
        return (lang == self.lang and work_mb == self.work_mb and limits == self.limits
                and time.monotonic() < self.expires_at and self.proc.poll() is None)

    def compile(self, command: list[str], limits: StageLimits, output_cap: int,
                grace: float) -> tuple[ProcessOutcome, cgroups.Usage]:
        """Hands the compile command over and waits for it; usage counts from the hand-off."""
        self.cgroup.set_background(False)
        before = self.cgroup.cpu_seconds()
        log_read, self.log_read = self.log_read, None  # collect closes it
        if log_read is None:
            raise ValueError("a warm jail takes one compile")
        request = b"\0".join(arg.encode() for arg in command)
        outcome = collect(self.proc, request, log_read, output_cap, limits.wall_seconds + 0.05, grace)
        usage = self.cgroup.usage()
        usage.cpu_seconds = max(0.0, self.cgroup.cpu_seconds() - before)
        outcome.cpu_seconds = usage.cpu_seconds  # the process's rusage includes the warm-up
        return outcome, usage

    def _stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream and not stream.closed:
                stream.close()
        if self.log_read is not None:
            os.close(self.log_read)
            self.log_read = None

    def close(self) -> None:
        """Kills what is left, destroys the cgroup, unmounts the work dir (never follows a link)."""
        self._stack.close()

    def __enter__(self) -> WarmJail:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class WarmJails:
    """At most one idle jail per language, per worker process."""

    def __init__(self, settings: SandboxSettings, layout: cgroups.Layout, owner: Callable[[], str],
                 uid_pool: UidPool):
        self.settings, self.layout, self.owner, self.uid_pool = settings, layout, owner, uid_pool
        self._idle: dict[str, WarmJail | None] = {}  # None: starting
        self._starting: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._renewer: threading.Thread | None = None
        atexit.register(self.close)

    def take(self, lang: Language, work_mb: int, limits: CompileLimits) -> WarmJail | None:
        with self._lock:
            jail = self._idle.get(lang.id)
            if jail is None:  # none, or still starting
                return None
            del self._idle[lang.id]
        if not jail.usable(lang, work_mb, limits):  # e.g. another tier's: the refill follows the compiles
            jail.close()
            return None
        return jail

    def refill(self, lang: Language, work_mb: int, limits: CompileLimits) -> None:
        """Start the next compile's jail in the background (after this run: not competing with it),
        with this compile's limits."""
        if not (lang.warm_compile and self.settings.warm_compilers
                and all(os.path.exists(path) for path in lang.warm_requires)):
            return
        with self._lock:  # started under the lock, so close() either sees the starter or refuses it
            if self._closed.is_set() or lang.id in self._idle:
                return
            self._idle[lang.id] = None  # reserved while it starts
            starter = threading.Thread(target=self._start, args=(lang, work_mb, limits), daemon=True,
                                       name=f"warm-{lang.id}")
            self._starting.add(starter)
            starter.start()
            if self._renewer is None:  # started here, in the process that keeps the jails (after any fork)
                self._renewer = threading.Thread(target=self._renew_loop, daemon=True, name="warm-renew")
                self._renewer.start()

    def renew_stale(self) -> int:
        """Replaces idle jails that expired or died, so a quiet worker's next compile is warm too."""
        with self._lock:
            stale = {lang_id: jail for lang_id, jail in self._idle.items()
                     if jail is not None and not jail.usable(jail.lang, jail.work_mb, jail.limits)}
            for lang_id in stale:
                del self._idle[lang_id]
        for jail in stale.values():
            jail.close()
            self.refill(jail.lang, jail.work_mb, jail.limits)
        return len(stale)

    def _renew_loop(self) -> None:
        while not self._closed.wait(RENEW_CHECK_SECONDS):
            try:
                self.renew_stale()
            except Exception as exc:  # the next compile simply starts cold
                log.warning("could not renew warm compilers: %s", exc)

    def _start(self, lang: Language, work_mb: int, limits: CompileLimits) -> None:
        try:
            name = f"{self.owner()}.warm-{uuid.uuid4().hex[:12]}"
            jail = WarmJail(self.settings, self.layout, lang, name, work_mb, limits, self.uid_pool)
        except Exception as exc:  # the next compile simply starts cold
            log.warning("could not start a warm %s compiler: %s", lang.id, exc)
            jail = None
        with self._lock:
            if jail is not None and lang.id in self._idle and self._idle[lang.id] is None:
                self._idle[lang.id], jail = jail, None
            elif self._idle.get(lang.id, 0) is None:
                del self._idle[lang.id]
            self._starting.discard(threading.current_thread())
        if jail is not None:  # closed meanwhile
            jail.close()

    def ready(self, lang_id: str) -> WarmJail | None:
        """The idle jail waiting for the language's next compile, if it has started."""
        with self._lock:
            return self._idle.get(lang_id)

    def close(self) -> None:
        """Ends every idle jail, after waiting for those still starting (which then close too)."""
        with self._lock:
            self._closed.set()
            jails, self._idle, starting = [j for j in self._idle.values() if j is not None], {}, list(self._starting)
        for starter in starting:
            starter.join(timeout=60)
        for jail in jails:
            jail.close()
