"""Compile jails started ahead of need, for languages whose compiler is slow to start (`warm_compile`).

A JVM compiler spends most of a small compile loading and warming itself (javac: ~0.4 s cold,
~0.03 s warm). So the worker keeps jails started ahead of need, as many per language as its
recent compiles need (sandbox/warm_pool.py), and starts a replacement once a taken one's run is over:
fresh work dir, fresh cgroup with the compile limits, nsjail as always, and in it the compiler,
which warms up on a throw-away program and then waits for one compile command on stdin. A
compile of that language is handed to one; its wall and CPU time count from the hand-off.
Each jail serves exactly one compile and is then destroyed, like any other stage: nothing of
one user's compile is seen by another's.
"""
from __future__ import annotations

import atexit
import dataclasses
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable

from . import cgroups, warm_archive
from .jail import StageLimits, expand
from .process import ProcessOutcome, collect
from .registry import CompileLimits, Language
from .settings import SandboxSettings
from .started_jail import StartedJail
from .uids import UidPool
from .warm_pool import Demand, PoolPolicy

log = logging.getLogger(__name__)

IDLE_SECONDS = 300.0  # an unused jail is replaced after this: a compiler is not left idling forever
EXCESS_IDLE_SECONDS = 60.0  # a jail beyond what a quieter compile rate needs is closed after this
RENEW_CHECK_SECONDS = 5.0  # how often expired or dead idle jails are looked for and replaced
WARM_UP_SECONDS = 30  # nsjail's own wall and CPU backstops allow for the warm-up, on top of the compile's


class WarmJail(StartedJail):
    """One started compile jail: its work dir, cgroup and the waiting compiler, with the compile
    limits it was started for (the language's, clamped by a tier): it takes only a compile of those."""

    def __init__(self, settings: SandboxSettings, layout: cgroups.Layout, lang: Language, name: str, work_mb: int,
                 limits: CompileLimits, uid_pool: UidPool, command: tuple[str, ...] | None = None):
        self.lang, self.name, self.work_mb, self.limits = lang, name, work_mb, limits
        self.started_at = time.monotonic()
        self.expires_at = self.started_at + IDLE_SECONDS
        with self._starting():
            ids = self._hold(settings, uid_pool, name, work_mb)
            backstop = IDLE_SECONDS + limits.timeout + WARM_UP_SECONDS
            stage = StageLimits(backstop, backstop, limits.memory_mb, limits.pids, limits.tmp_mb)
            # its heap sized for these limits
            argv_in_jail = expand(command or lang.warm_compile, lang, limits.memory_mb)
            self._launch(settings, layout, lang, ids, f"{name}-compile", argv_in_jail, stage)

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

    def idle_for(self, now: float) -> float:
        return now - self.started_at

    def cpu_so_far(self) -> float:
        """CPU time used before the hand-off: the warm-up's cost, once it has warmed up."""
        try:
            return self.cgroup.cpu_seconds()
        except OSError:
            return 0.0

    def finish(self, wall_seconds: float, output_cap: int, grace: float, stop: threading.Event) -> ProcessOutcome:
        """Ends it with no compile (an empty stdin) and waits for its exit, still on idle CPU."""
        log_read, self.log_read = self.log_read, None
        if log_read is None:
            raise ValueError("a warm jail takes one compile")
        return collect(self.proc, b"", log_read, output_cap, wall_seconds, grace, stop)


class WarmJails:
    """Idle warm jails per language, per worker process, as many as the recent compile rate needs
    (sandbox/warm_pool.py); each taken one is replaced after its run, on idle CPU."""

    def __init__(self, settings: SandboxSettings, layout: cgroups.Layout, owner: Callable[[], str],
                 uid_pool: UidPool):
        self.settings, self.layout, self.owner, self.uid_pool = settings, layout, owner, uid_pool
        self.policy = PoolPolicy.for_settings(settings)
        self.demand = Demand()
        self._idle: dict[str, list[WarmJail]] = {}  # oldest first: the likeliest warmed up
        self._starting: dict[str, list[int]] = {}  # memory limits (MB) of the jails being started
        self._wanted: dict[str, tuple[Language, int, CompileLimits]] = {}  # what the last compile asked for
        self._threads: set[threading.Thread] = set()
        self._archives_tried: set[str] = set()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._renewer: threading.Thread | None = None
        atexit.register(self.close)

    def take(self, lang: Language, work_mb: int, limits: CompileLimits) -> WarmJail | None:
        """An idle jail started for exactly this compile's limits; dead, expired ones are closed,
        and those of other limits too when none fits (the jails follow the compiles)."""
        with self._lock:
            self.demand.record(lang.id)
            pool = self._idle.get(lang.id, [])
            jail = next((j for j in pool if j.usable(lang, work_mb, limits)), None)
            spoilt = [j for j in pool if j is not jail and (jail is None or not j.usable(j.lang, j.work_mb, j.limits))]
            self._idle[lang.id] = [j for j in pool if j is not jail and j not in spoilt]
        for old in spoilt:
            old.close()
        if jail is not None:
            self.demand.warmed_up(lang.id, jail.cpu_so_far())
        # its replacement starts after this compile's run (refill), so its set-up does not compete with it
        return jail

    def refill(self, lang: Language, work_mb: int, limits: CompileLimits) -> None:
        """Start jails in the background, with this compile's limits, up to what the recent
        compiles of the language need."""
        if not (lang.warm_compile and self.settings.warm_compilers
                and all(os.path.exists(path) for path in lang.warm_requires)):
            return
        with self._lock:  # started under the lock, so close() either sees the starter or refuses it
            if self._closed.is_set():
                return
            self._wanted[lang.id] = (lang, work_mb, limits)
            starting = self._starting.setdefault(lang.id, [])
            have = len(self._idle.get(lang.id, ())) + len(starting)
            for _ in range(self.demand.target(lang.id, self.policy) - have):
                if have and not self._memory_allows(limits.memory_mb):
                    break
                starting.append(limits.memory_mb)
                have += 1
                self._spawn(self._start, (lang, work_mb, limits), f"warm-{lang.id}")
            self._make_archive_once(lang)
            if self._renewer is None:  # started here, in the process that keeps the jails (after any fork)
                self._renewer = threading.Thread(target=self._renew_loop, daemon=True, name="warm-renew")
                self._renewer.start()

    def _memory_allows(self, memory_mb: int) -> bool:
        """Whether one more jail keeps this process's warm jails within their memory share."""
        if self.policy.memory_mb is None:
            return True
        held = sum(j.limits.memory_mb for pool in self._idle.values() for j in pool)
        held += sum(sum(mbs) for mbs in self._starting.values())
        return held + memory_mb <= self.policy.memory_mb

    def _spawn(self, target: Callable[..., None], args: tuple[object, ...], name: str) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name=name)
        self._threads.add(thread)
        thread.start()

    def renew_stale(self) -> int:
        """Closes idle jails that expired or died, and those beyond what a quieter compile rate
        needs; then tops every language up again, so a quiet worker's next compile is warm too."""
        now = time.monotonic()
        with self._lock:
            stale: list[WarmJail] = []
            for lang_id, pool in self._idle.items():
                keep = [j for j in pool if j.usable(j.lang, j.work_mb, j.limits)]
                excess = len(keep) + len(self._starting.get(lang_id, ())) - self.demand.target(lang_id, self.policy)
                spare = [j for j in keep if j.idle_for(now) > EXCESS_IDLE_SECONDS][:max(0, excess)]
                stale += [j for j in pool if j not in keep or j in spare]
                self._idle[lang_id] = [j for j in keep if j not in spare]
            wanted = list(self._wanted.values())
        for jail in stale:
            jail.close()
        for lang, work_mb, limits in wanted:
            self.refill(lang, work_mb, limits)
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
            jail: WarmJail | None = WarmJail(self.settings, self.layout, lang, name, work_mb, limits, self.uid_pool)
        except Exception as exc:  # the next compile simply starts cold
            log.warning("could not start a warm %s compiler: %s", lang.id, exc)
            jail = None
        with self._lock:
            starting = self._starting.get(lang.id, [])
            if limits.memory_mb in starting:
                starting.remove(limits.memory_mb)
            if jail is not None and not self._closed.is_set():
                self._idle.setdefault(lang.id, []).append(jail)
                jail = None
            self._threads.discard(threading.current_thread())
        if jail is not None:  # closed meanwhile
            jail.close()

    def _make_archive_once(self, lang: Language) -> None:
        """Under the lock: the compiler's class-data archive, made once in the background if missing."""
        archive = warm_archive.archive_of(lang)
        if archive is None or lang.id in self._archives_tried or warm_archive.is_current(archive, lang):
            return
        self._archives_tried.add(lang.id)
        self._spawn(self._make_archive, (lang, archive), f"warm-archive-{lang.id}")

    def _make_archive(self, lang: Language, archive: warm_archive.WarmArchive) -> None:
        try:
            with warm_archive.making(archive) as mine:
                if mine and not warm_archive.is_current(archive, lang):
                    self._dump(lang, archive)
        except Exception as exc:  # its warm jails start without it, as before
            log.warning("could not make the %s warm compiler's class-data archive: %s", lang.id, exc)
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _dump(self, lang: Language, archive: warm_archive.WarmArchive) -> None:
        name = f"{self.owner()}.warm-{uuid.uuid4().hex[:12]}"
        settings = dataclasses.replace(self.settings, file_size_mb=warm_archive.DUMP_WORK_MB)  # it writes one big file
        with WarmJail(settings, self.layout, lang, name, warm_archive.DUMP_WORK_MB, lang.compile_limits,
                      self.uid_pool, archive.dump_command(lang.warm_compile)) as jail:
            outcome = jail.finish(warm_archive.DUMP_SECONDS, self.settings.output_limit_bytes,
                                  self.settings.kill_grace, self._closed)
            if outcome.returncode != 0 or outcome.killed_for is not None:
                raise OSError(f"the dump ended with {outcome.returncode}: {outcome.stderr[-500:]!r}")
            warm_archive.install(jail.work.path, archive)
        log.info("made the %s warm compiler's class-data archive %s", lang.id, archive.host_path)

    def idle_counts(self) -> dict[str, int]:
        """Started jails waiting for a compile, per language."""
        with self._lock:
            return {lang_id: len(pool) for lang_id, pool in self._idle.items() if pool}

    def ready(self, lang_id: str) -> WarmJail | None:
        """The oldest idle jail waiting for one of the language's next compiles, if one has started."""
        with self._lock:
            pool = self._idle.get(lang_id)
            return pool[0] if pool else None

    def close(self) -> None:
        """Ends every idle jail, after waiting for those still starting (which then close too)."""
        with self._lock:
            self._closed.set()
            jails = [j for pool in self._idle.values() for j in pool]
            self._idle, threads = {}, list(self._threads)
        for thread in threads:
            thread.join(timeout=60)
        for jail in jails:
            jail.close()
