"""Runs a program under nsjail in a fresh work dir and per-run cgroup; returns the verdict."""
from __future__ import annotations

import errno
import logging
import os
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Protocol

from . import artifacts, cgroups, hostcheck, outputs, sweep, uids, workdir
from .jail import StageLimits, entry_file, expand, jail_command, jail_ids
from .outputs import OutputCaps, Outputs
from .prewarm import WarmJail, WarmJails
from .process import KilledFor, Launch, ProcessOutcome, run_process
from .ready_jails import MAX_COMMAND_BYTES, ReadyJail, ReadyJails, RunKind, command_payload
from .registry import CompileCap, CompileLimits, Language
from .sanitize import sanitize
from .settings import SandboxSettings
from .status import ExecutionStatus
from .verdict import classify

log = logging.getLogger(__name__)


class SandboxInfraError(RuntimeError):
    """The sandbox itself failed (not the user's program); safe to retry."""


@dataclass(frozen=True)
class RunSpec:
    language: Language
    code: str
    stdin: bytes = b""
    args: tuple[str, ...] = ()
    files: tuple[tuple[str, bytes], ...] = ()
    timeout: float = 30.0
    memory_mb: int = 512
    entry: str | None = None  # the entry file's name, when the caller chose it (a project's file)
    compile_cap: CompileCap | None = None  # the caller's tier's compile limits; None: the language's own
    outputs: OutputCaps | None = None  # keep what the run writes under /work/out/; None: nothing


@dataclass
class RunResult:
    status: ExecutionStatus
    stdout: str = ""
    stderr: str = ""
    compile_output: str = ""
    returncode: int | None = None
    signal: str | None = None
    wall_time: float = 0.0
    cpu_time: float = 0.0
    memory_kb: int = 0
    truncated: dict[str, bool] = field(default_factory=lambda: {"stdout": False, "stderr": False})
    message: str | None = None
    compile_cpu_time: float = 0.0
    compile_wall_time: float = 0.0
    compile_memory_kb: int = 0
    raw_stdout: bytes = field(default=b"", repr=False)  # as printed, before sanitizing (for grading)
    outputs: Outputs = field(default_factory=Outputs)  # the files under /work/out/ kept


@dataclass(frozen=True)
class CompiledProgram:
    """A program ready to run many times: the compile stage's files, or the sources as sent."""
    language: Language
    main: str
    files: tuple[artifacts.ArtifactFile, ...]
    compile_output: str = ""
    compile_cpu_time: float = 0.0
    compile_wall_time: float = 0.0
    compile_memory_kb: int = 0


Supervise = Callable[[Launch, float], ProcessOutcome]  # starts the stage's nsjail, watches it until its deadline


class LiveStages(Protocol):
    """A live run's part in its stages (sandbox/live_runner.py): it reports the compile as it
    happens, and supervises the run stage's process itself (input, output, signals as they come)."""

    def compile(self, compile_now: Callable[[], RunResult]) -> RunResult: ...

    def supervise(self, launch: Launch, deadline_seconds: float) -> ProcessOutcome: ...


def _start_ticks(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


_token: dict[int, str] = {}


def _owner_token() -> str:
    """'<pid>-<start time>': names this worker process, immune to pid reuse."""
    pid = os.getpid()
    if pid not in _token:  # per process: a forked pool process gets its own
        _token[pid] = f"{pid}-{_start_ticks(pid)}"
    return _token[pid]


def _owner_alive(name: str) -> bool:
    """Run dirs and cgroups are named '<owner token>.<run>'; other names are never ours."""
    owner, _, run = name.partition(".")
    pid, _, ticks = owner.partition("-")
    if not (pid.isdigit() and ticks.isdigit() and run):
        return True  # not a run of ours: leave it alone
    return _start_ticks(int(pid)) == ticks


def _unplaceable(exc: OSError | workdir.FileLayoutError) -> RunResult:
    if isinstance(exc, workdir.FileLayoutError):  # the request's names: its result, not a worker fault
        return RunResult(status=ExecutionStatus.ERROR, message=str(exc))
    return RunResult(status=ExecutionStatus.INTERNAL_ERROR,
                     message=f"could not place the input files: {exc.strerror}: {exc.filename}")


def _unpassable(command: list[str]) -> str | None:
    """Why exec cannot take this command line (its user part: the request's arguments), or None."""
    try:
        if any(b"\x00" in os.fsencode(part) for part in command):
            return "embedded null byte"
    except UnicodeEncodeError:
        return "not valid Unicode text"
    return None


def _unstartable(reason: str) -> RunResult:
    """The request's own arguments kept the program from starting: its result, not a retry."""
    return RunResult(status=ExecutionStatus.INTERNAL_ERROR,
                     message=f"the program could not be started with its arguments: {reason}")


class Runner:
    def __init__(self, settings: SandboxSettings | None = None):
        self.settings = settings or SandboxSettings.from_env()
        self.cgroups = cgroups.detect(self.settings.cgroup_parent)
        self.uids = uids.UidPool(self.settings.uid_range, self.settings.uid_lease_dir)
        self.warm = WarmJails(self.settings, self.cgroups, _owner_token, self.uids)
        self.ready = ReadyJails(self.settings, self.cgroups, _owner_token, self.uids)

    def close(self) -> None:
        """Ends the jails this runner keeps started ahead of need (also done at exit)."""
        self.ready.close()
        self.warm.close()

    def prepare(self) -> None:
        """Check the host can enforce limits, create roots, sweep leftovers of dead workers."""
        for binary in (self.settings.nsjail, self.settings.tini):
            if not os.access(binary, os.X_OK):
                raise SandboxInfraError(f"missing sandbox binary: {binary}")
        if hostcheck.x32_syscalls_enabled():
            raise SandboxInfraError("the kernel accepts x32 system calls, which the seccomp policy does not "
                                    "filter by name: boot with syscall.x32=n")
        total_memory = self.settings.total_memory_mb
        self.cgroups.prepare(cgroups.ParentCaps(total_memory << 20 if total_memory else None, self.settings.total_pids))
        workdir.prepare_runs_dir(self.settings.runs_dir)
        self.uids.prepare()
        report = sweep.sweep(self.settings.runs_dir, self.cgroups, lambda n: not _owner_alive(n))
        if report.swept or report.skipped:
            log.info("swept %d stale sandbox leftovers (%d skipped)", report.swept, len(report.skipped))

    def prewarm(self, languages: Iterable[Language], cap: CompileCap | None = None) -> None:
        """Start compile jails ahead of need for those of these languages that have them, with
        the compile limits `cap` leaves them (a jail only takes a compile of exactly its limits)."""
        for lang in languages:
            self.warm.refill(lang, self.settings.work_mb, lang.compile_limits.capped(cap))

    def run(self, spec: RunSpec, live: LiveStages | None = None) -> RunResult:
        main, files = self._inputs(spec)
        ready = live is None and not spec.language.compile  # a live run's jail starts as it is watched
        with self._ready_workdir(spec, main) if ready else self._workdir(spec, compiling=True) as (name, work, jail):
            try:
                work.write_files(files)
            except (OSError, workdir.FileLayoutError) as exc:  # the request's files cannot be laid out: no retry
                return _unplaceable(exc)
            return self._compile_and_run(name, work.path, spec, main, jail, live)

    def compile(self, spec: RunSpec) -> CompiledProgram | RunResult:
        """Compile once for many runs (batch grading): the artifacts, or the failed compile's result."""
        main, files = self._inputs(spec)
        if not spec.language.compile:
            try:
                workdir.check_layout(name for name, _ in files)
            except workdir.FileLayoutError as exc:
                return _unplaceable(exc)
            return CompiledProgram(spec.language, main, tuple(artifacts.ArtifactFile(n, c, False) for n, c in files))
        with self._workdir(spec, compiling=True) as (name, work, jail):
            try:
                work.write_files(files)
            except (OSError, workdir.FileLayoutError) as exc:
                return _unplaceable(exc)
            compiled = self._compile(name, work.path, spec, main, jail)
            if compiled.status != ExecutionStatus.SUCCESS:
                return compiled
            try:
                kept = artifacts.snapshot(work.path, self._work_mb(spec) << 20)
            except artifacts.ArtifactError as exc:
                compiled.status, compiled.message = ExecutionStatus.COMPILE_ERROR, str(exc)
                return compiled
        return CompiledProgram(spec.language, main, kept, compiled.compile_output,
                               compiled.cpu_time, compiled.wall_time, compiled.memory_kb)

    def run_compiled(self, program: CompiledProgram, spec: RunSpec, stop: threading.Event | None = None) -> RunResult:
        """One run of a compiled program in a fresh work dir; spec gives stdin, args and limits.
        Setting `stop` kills the jail at once: the result is `stopped`, with what it used so far."""
        with self._ready_workdir(spec, program.main) as (name, work, ready):
            try:
                artifacts.lay_out(work.path, program.files)
            except OSError as exc:
                return _unplaceable(exc)
            return self._run_stage(name, work.path, spec, program.main, stop, ready=ready)

    def _run_stage(self, name: str, work_path: Path, spec: RunSpec, main: str,
                   stop: threading.Event | None = None, supervise: Supervise | None = None,
                   ready: ReadyJail | None = None) -> RunResult:
        """The run stage, with its out/ made before and the files left there taken after."""
        if spec.outputs is not None:
            outputs.prepare(work_path)
        result = self._run_process(name, work_path, spec, main, stop, supervise, ready)
        if spec.outputs is not None:
            result.outputs = outputs.collect(work_path, spec.outputs)
        return result

    def _inputs(self, spec: RunSpec) -> tuple[str, list[tuple[str, bytes]]]:
        main = spec.entry or entry_file(spec.language, spec.code)
        source = (spec.language.prelude + spec.code).encode()
        return main, [(main, source), *((n, c) for n, c in spec.files if n != main)]

    @contextmanager
    def _workdir(self, spec: RunSpec,
                 compiling: bool = False) -> Iterator[tuple[str, workdir.Workdir, WarmJail | None]]:
        """(name, work dir, warm compile jail or None): a compile takes the work dir of a jail
        started ahead of need when there is one, and afterwards has the next one started."""
        work_mb = self._work_mb(spec)
        limits = _compile_limits(spec)
        jail = self.warm.take(spec.language, work_mb, limits) if compiling and spec.language.compile else None
        try:
            if jail is not None:
                with jail:
                    yield jail.name, jail.work, jail
            else:
                name = f"{_owner_token()}.{uuid.uuid4().hex[:12]}"
                with self.uids.lease() as ids, workdir.Workdir(self.settings.runs_dir, name, work_mb, ids) as work:
                    yield name, work, None
        except (OSError, workdir.WorkdirError, uids.UidPoolError) as exc:
            raise SandboxInfraError(str(exc)) from exc
        finally:
            if compiling:
                self.warm.refill(spec.language, work_mb, limits)

    @contextmanager
    def _ready_workdir(self, spec: RunSpec, main: str) -> Iterator[tuple[str, workdir.Workdir, ReadyJail | None]]:
        """(name, work dir, ready run jail or None): a run stage takes a jail started ahead of need
        for its kind when there is one, and afterwards has the next one started."""
        kind = self._run_kind(spec, main)
        ready = self.ready.take(kind) if kind is not None else None
        try:
            if ready is None:
                with self._workdir(spec) as (name, work, _):
                    yield name, work, None
            else:
                try:
                    yield ready.name, ready.work, ready
                finally:
                    self.ready.discard(ready)
        except (OSError, workdir.WorkdirError) as exc:
            raise SandboxInfraError(str(exc)) from exc
        finally:
            if kind is not None:
                self.ready.refill(kind)

    def _run_kind(self, spec: RunSpec, main: str) -> RunKind | None:
        """The kind of ready jail this run stage can take; None if it must start fresh."""
        command = self._run_command(spec, main)
        if not self.ready.enabled or _unpassable(command) or len(command_payload(command)) > MAX_COMMAND_BYTES:
            return None
        return RunKind(spec.language.id, spec.timeout, spec.memory_mb, self._work_mb(spec), self.settings.tmp_mb,
                       spec.language)

    def _compile_and_run(self, name: str, work_path: Path, spec: RunSpec, main: str,
                         jail: WarmJail | ReadyJail | None = None, live: LiveStages | None = None) -> RunResult:
        lang, compiled = spec.language, None
        if isinstance(jail, ReadyJail):  # an interpreted run's jail, started ahead of need
            return self._run_stage(name, work_path, spec, main, ready=jail)
        if lang.compile:
            compile_now = partial(self._compile, name, work_path, spec, main, jail)
            compiled = live.compile(compile_now) if live else compile_now()
            if compiled.status != ExecutionStatus.SUCCESS:
                return compiled
        result = self._run_stage(name, work_path, spec, main, supervise=live.supervise if live else None)
        if compiled is not None:
            result.compile_output, result.compile_cpu_time = compiled.compile_output, compiled.cpu_time
            result.compile_wall_time, result.compile_memory_kb = compiled.wall_time, compiled.memory_kb
        return result

    def _run_command(self, spec: RunSpec, main: str) -> list[str]:
        return expand(spec.language.run, spec.language, spec.memory_mb, main) + list(spec.args)

    def _run_process(self, name: str, work_path: Path, spec: RunSpec, main: str,
                     stop: threading.Event | None = None, supervise: Supervise | None = None,
                     ready: ReadyJail | None = None) -> RunResult:
        lang, command = spec.language, self._run_command(spec, main)
        limits = StageLimits(spec.timeout, spec.timeout, spec.memory_mb, lang.pids, self.settings.tmp_mb)
        if ready is not None:
            return self._hand_off(ready, command, spec.stdin, limits, stop)
        return self._stage(f"{name}-run", work_path, command, spec.stdin, limits, lang, stop, supervise)

    def _hand_off(self, ready: ReadyJail, command: list[str], stdin: bytes, limits: StageLimits,
                  stop: threading.Event | None) -> RunResult:
        """A command exec cannot take never gets here: such a run starts fresh (_run_kind)."""
        try:
            outcome, usage = ready.hand_off(command, stdin, limits, self.settings.output_limit_bytes,
                                            self.settings.kill_grace, stop)
        except OSError as exc:
            raise SandboxInfraError(f"the ready jail failed: {exc}") from exc
        return _result(outcome, usage, limits)

    def _compile(self, name: str, work_path: Path, spec: RunSpec, main: str,
                 jail: WarmJail | None = None) -> RunResult:
        """The compile stage: its own jail and limits; the compiler is untrusted input's first reader."""
        lang, cl = spec.language, _compile_limits(spec)
        command = expand(lang.compile, lang, cl.memory_mb, main, tuple(n for n, _ in spec.files))
        limits = StageLimits(cl.timeout, cl.timeout, cl.memory_mb, cl.pids, cl.tmp_mb)
        if jail is not None:
            try:
                outcome, usage = jail.compile(command, limits, self.settings.output_limit_bytes,
                                              self.settings.kill_grace)
            except OSError as exc:
                raise SandboxInfraError(f"the warm compiler failed: {exc}") from exc
            result = _result(outcome, usage, limits)
        else:
            result = self._stage(f"{name}-compile", work_path, command, b"", limits, lang)
        result.compile_output = (result.stdout + result.stderr).strip("\n")
        if result.status in (ExecutionStatus.SUCCESS, ExecutionStatus.INTERNAL_ERROR):
            return result
        reasons = {ExecutionStatus.TIMEOUT: f"compilation exceeded its time limit ({cl.timeout:g} s)",
                   ExecutionStatus.MEMORY_LIMIT: f"the compiler ran out of memory ({cl.memory_mb} MB)",
                   ExecutionStatus.OUTPUT_LIMIT: "compiler output exceeded the limit"}
        result.message = reasons.get(result.status, result.message)
        result.status, result.returncode, result.signal = ExecutionStatus.COMPILE_ERROR, None, None
        result.stdout = result.stderr = ""
        return result

    def _work_mb(self, spec: RunSpec) -> int:
        return min(self.settings.work_mb, spec.memory_mb)

    def _stage(self, name: str, work_path: Path, command: list[str], stdin: bytes,
               limits: StageLimits, lang: Language, stop: threading.Event | None = None,
               supervise: Supervise | None = None) -> RunResult:
        if (reason := _unpassable(command)) is not None:
            return _unstartable(reason)
        cgroup = cgroups.RunCgroup(self.cgroups, name)
        memory_bytes = limits.memory_mb * 1024 * 1024
        try:
            cgroup.create(memory_bytes, limits.pids)
            log_read, log_write = os.pipe()  # run_process owns and closes both ends
            ids = jail_ids(self.settings, work_path, self.uids.lease_fd)
            with jail_command(self.settings, lang, ids, work_path, command, limits, log_write,
                              cgroup.nsjail_flags(memory_bytes, limits.pids)) as (argv, inherited), \
                    self.cgroups.thread_cpu(_owner_token()).measure() as thread_cpu:
                launch = Launch(argv, log_write, log_read, tuple(cgroup.join_paths()), cgroup.home_paths, inherited)
                deadline = limits.wall_seconds + 0.05
                outcome = supervise(launch, deadline) if supervise else run_process(
                    launch, stdin, self.settings.output_limit_bytes, deadline, self.settings.kill_grace, stop)
            usage = cgroup.usage()
        except subprocess.SubprocessError as exc:  # nsjail could not be started
            raise SandboxInfraError(f"could not start the sandbox: {exc}") from exc
        except OSError as exc:
            if exc.errno != errno.E2BIG:
                raise
            return _unstartable(exc.strerror or os.strerror(exc.errno))  # the arguments exceed what exec takes
        finally:
            cgroup.destroy()
        # the best of the cgroup, the per-thread cpuacct group and rusage (whichever this host gives)
        usage.cpu_seconds = max(usage.cpu_seconds, thread_cpu.seconds, outcome.cpu_seconds)
        return _result(outcome, usage, limits)


def _compile_limits(spec: RunSpec) -> CompileLimits:
    """The language's compile limits, clamped by the caller's tier: compile-time code is the
    caller's code, so it gets no more than the tier allows a compile."""
    return spec.language.compile_limits.capped(spec.compile_cap)


# only signals we have evidence of: the ones the sandbox itself sent
_SIGNAL_SENT = {ExecutionStatus.MEMORY_LIMIT: "SIGKILL", ExecutionStatus.TIMEOUT: "SIGKILL",
                ExecutionStatus.OUTPUT_LIMIT: "SIGTERM", ExecutionStatus.STOPPED: "SIGTERM"}


def _result(outcome: ProcessOutcome, usage: cgroups.Usage, limits: StageLimits) -> RunResult:
    status, message = classify(outcome, usage, limits.cpu_seconds)
    if outcome.killed_for == KilledFor.STOPPED:  # its caller stopped it: whatever the program did until then
        status, message = ExecutionStatus.STOPPED, "stopped before it finished: the run was cancelled"
    signal = _SIGNAL_SENT.get(status)
    return RunResult(
        status=status, stdout=sanitize(outcome.stdout), stderr=sanitize(outcome.stderr),
        returncode=outcome.returncode, signal=signal,
        wall_time=round(outcome.wall_seconds, 4), cpu_time=round(usage.cpu_seconds, 4),
        memory_kb=usage.memory_peak_bytes // 1024, truncated=outcome.truncated, message=message,
        raw_stdout=outcome.stdout,
    )
