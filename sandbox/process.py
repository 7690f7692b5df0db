"""Runs one nsjail process: feeds stdin, reads capped stdout/stderr and the nsjail log."""
from __future__ import annotations

import errno
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO

READ_CHUNK = 65536
LOG_CAP = 1 << 20  # what is kept of nsjail's own log


class KilledFor(StrEnum):
    """Why the worker killed a process: evidence for the verdict, not a run status."""
    OUTPUT_LIMIT = "output_limit"
    WALL_TIMEOUT = "wall_timeout"
    STOPPED = "stopped"  # its caller no longer wants the result


@dataclass
class ProcessOutcome:
    returncode: int
    wall_seconds: float
    stdout: bytes
    stderr: bytes
    log: str
    cpu_seconds: float = 0.0
    truncated: dict[str, bool] = field(default_factory=dict)
    killed_for: KilledFor | None = None  # set when the worker killed it


class Capture:
    def __init__(self, cap: int | None):
        self.cap, self.size, self.truncated = cap, 0, False
        self.chunks: list[bytes] = []

    def add(self, data: bytes) -> bytes:
        """Keeps data up to the cap and returns what it kept (less, once the cap is exceeded)."""
        if self.cap is not None and self.size + len(data) > self.cap:
            data, self.truncated = data[: self.cap - self.size], True
        self.chunks.append(data)
        self.size += len(data)
        return data

    def value(self) -> bytes:
        return b"".join(self.chunks)


class Captures:
    """A stage's stdout and stderr, each kept up to the output cap, and nsjail's log."""

    def __init__(self, output_cap: int):
        self.streams = {"stdout": Capture(output_cap), "stderr": Capture(output_cap), "log": Capture(LOG_CAP)}

    def add(self, name: str, data: bytes) -> bytes:
        return self.streams[name].add(data)

    def over_cap(self, name: str) -> bool:
        return self.streams[name].truncated

    def outcome(self, returncode: int, wall_seconds: float, cpu_seconds: float,
                killed_for: KilledFor | None) -> ProcessOutcome:
        stdout, stderr = self.streams["stdout"], self.streams["stderr"]
        return ProcessOutcome(
            returncode=returncode, wall_seconds=wall_seconds, stdout=stdout.value(), stderr=stderr.value(),
            log=self.streams["log"].value().decode(errors="replace"), cpu_seconds=cpu_seconds,
            truncated={"stdout": stdout.truncated, "stderr": stderr.truncated}, killed_for=killed_for,
        )


def read_ready(sel: selectors.BaseSelector, key: selectors.SelectorKey) -> bytes:
    """The next bytes of a readable fd; b"" at its end, when it is also unregistered (the end of
    a terminal's master is EIO: every process holding its other side is gone)."""
    fd = key.fileobj if isinstance(key.fileobj, int) else key.fileobj.fileno()
    try:
        data = os.read(fd, READ_CHUNK)
    except OSError as exc:
        if exc.errno != errno.EIO:
            raise
        data = b""
    if not data:
        sel.unregister(key.fileobj)
    return data


def signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def idle_priority() -> list[str]:
    """chrt starts nsjail, and so what a jail started ahead of need runs, under SCHED_IDLE: a run
    that wants the CPU preempts it at once (cpu.shares alone still let a JVM warm-up slow runs ~2x).
    Every thread is set back to normal scheduling at the hand-off (RunCgroup.set_background)."""
    chrt = next((p for p in ("/usr/bin/chrt", "/bin/chrt") if os.access(p, os.X_OK)), None)
    return [chrt, "--idle", "0"] if chrt else []


def end_process(proc: subprocess.Popen[bytes]) -> None:
    """Kills a jail's nsjail if it still runs, waits for it, closes our ends of its pipes."""
    if proc.poll() is None:
        signal_group(proc, signal.SIGKILL)
        proc.wait()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream and not stream.closed:
            stream.close()


def reap(proc: subprocess.Popen[bytes]) -> tuple[int, float]:
    """Exit code and CPU seconds of nsjail plus every process it (and tini) reaped."""
    _, status, rusage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, rusage.ru_utime + rusage.ru_stime


class Ending:
    """The worker ending nsjail: SIGTERM to its process group (nsjail kills the jail and exits),
    SIGKILL if it is still there `grace` seconds later. The first reason given is the one kept."""

    def __init__(self, proc: subprocess.Popen[bytes], grace: float):
        self.proc, self.grace = proc, grace
        self.killed_for: KilledFor | None = None
        self._kill_at: float | None = None

    def end(self, reason: KilledFor, grace: float | None = None) -> None:
        if self.killed_for is None:
            self.killed_for = reason
            self._kill_at = time.monotonic() + (self.grace if grace is None else grace)
            signal_group(self.proc, signal.SIGTERM)

    def enforce(self) -> float | None:
        """Sends the SIGKILL when it is due; seconds until it is (None: none is due)."""
        if self._kill_at is None:
            return None
        left = self._kill_at - time.monotonic()
        if left > 0:
            return left
        signal_group(self.proc, signal.SIGKILL)
        self._kill_at = None
        return None


_SPAWN_LOCK = threading.Lock()  # cgroup membership is per process: one spawn at a time


@contextmanager
def _inside(join_cgroups: tuple[Path, ...], home_cgroups: Callable[[], list[Path]]) -> Iterator[None]:
    """This process steps into the run's (fresh, empty) cgroups while it spawns nsjail, and back
    out: the child inherits them at fork, so nothing it starts runs outside them. Doing it here,
    not in the child, keeps the fast vfork/exec spawn (a preexec_fn forces a full fork).
    Where "back" is, is read under the lock: no other thread has moved the process then."""
    if not join_cgroups:
        yield
        return
    with _SPAWN_LOCK:
        home = home_cgroups()
        try:
            for path in join_cgroups:
                _write_self(path)
            yield
        finally:
            for path in home:
                _write_self(path)


def _write_self(cgroup_procs: Path) -> None:
    fd = os.open(cgroup_procs, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, b"0")  # 0 means "the writing process"
    finally:
        os.close(fd)


SPAWN_WAIT_SECONDS = 10.0  # how long a start waits for the fleet's pids cap to free a slot


Stdio = tuple[int, int, int]  # what becomes nsjail's fds 0, 1 and 2: pipes, or given fds (a terminal's)
PIPES: Stdio = (subprocess.PIPE, subprocess.PIPE, subprocess.PIPE)


def _spawn(argv: list[str], log_write_fd: int, join_cgroups: tuple[Path, ...],
           home_cgroups: Callable[[], list[Path]], keep_fds: tuple[int, ...],
           stdio: Stdio = PIPES) -> subprocess.Popen[bytes]:
    """The fork happens inside the run's cgroups, so a parent pids cap filled by other runs
    refuses it (EAGAIN): those runs end within their limits, so wait for a slot, with backoff.
    nsjail inherits `keep_fds` (the uid lease: it stays taken while nsjail lives, even if this
    worker dies); nsjail closes them in the jail, which sees only the fds it passes on."""
    give_up_at, pause = time.monotonic() + SPAWN_WAIT_SECONDS, 0.02
    while True:
        try:
            with _inside(join_cgroups, home_cgroups):
                return subprocess.Popen(
                    argv, stdin=stdio[0], stdout=stdio[1], stderr=stdio[2],
                    pass_fds=(log_write_fd, *keep_fds), start_new_session=True, close_fds=True, env={},
                )
        except BlockingIOError:
            if time.monotonic() + pause > give_up_at:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.5)


@dataclass(frozen=True)
class Launch:
    """How one stage's nsjail starts: its argv, the log pipe (whoever starts it owns both ends
    from then on), the run's cgroups it starts in and the fds it keeps (config, uid lease)."""
    argv: list[str]
    log_write_fd: int
    log_read_fd: int
    join_cgroups: tuple[Path, ...] = ()
    home_cgroups: Callable[[], list[Path]] = list
    keep_fds: tuple[int, ...] = ()

    def start(self, stdio: Stdio = PIPES) -> subprocess.Popen[bytes]:
        return start_process(self.argv, self.log_write_fd, self.log_read_fd, self.join_cgroups,
                             self.home_cgroups, self.keep_fds, stdio)


def run_process(launch: Launch, stdin: bytes, output_cap: int, deadline_seconds: float, grace: float,
                stop: threading.Event | None = None) -> ProcessOutcome:
    """Owns both log pipe ends: they are closed whatever happens."""
    return collect(launch.start(), stdin, launch.log_read_fd, output_cap, deadline_seconds, grace, stop)


def start_process(argv: list[str], log_write_fd: int, log_read_fd: int, join_cgroups: tuple[Path, ...] = (),
                  home_cgroups: Callable[[], list[Path]] = list,
                  keep_fds: tuple[int, ...] = (), stdio: Stdio = PIPES) -> subprocess.Popen[bytes]:
    """Starts nsjail (closing the log pipe's write end); on failure also closes the read end."""
    try:
        return _spawn(argv, log_write_fd, join_cgroups, home_cgroups, keep_fds, stdio)
    except BaseException:
        os.close(log_read_fd)
        raise
    finally:
        os.close(log_write_fd)


def _pipes(proc: subprocess.Popen[bytes]) -> tuple[IO[bytes], IO[bytes], IO[bytes]]:
    """stdin, stdout and stderr: start_process always opens all three."""
    if proc.stdin is None or proc.stdout is None or proc.stderr is None:
        raise ValueError("the process was started without its stdin, stdout and stderr pipes")
    return proc.stdin, proc.stdout, proc.stderr


def collect(proc: subprocess.Popen[bytes], stdin: bytes, log_read_fd: int, output_cap: int,
            deadline_seconds: float, grace: float, stop: threading.Event | None = None) -> ProcessOutcome:
    """Feeds stdin and captures the output until the process ends, killing it at the deadline
    (counted from now: a wait for a pids slot, or a warm jail's idle time, is not the program's)
    or as soon as `stop` is set (its caller no longer wants the result)."""
    stdin_pipe, stdout_pipe, stderr_pipe = _pipes(proc)
    start = time.monotonic()
    captures, ending = Captures(output_cap), Ending(proc, grace)
    sel = selectors.DefaultSelector()
    sel.register(stdout_pipe, selectors.EVENT_READ, "stdout")
    sel.register(stderr_pipe, selectors.EVENT_READ, "stderr")
    sel.register(log_read_fd, selectors.EVENT_READ, "log")
    pending = memoryview(stdin)
    if pending:
        os.set_blocking(stdin_pipe.fileno(), False)
        sel.register(stdin_pipe, selectors.EVENT_WRITE, "stdin")
    else:
        stdin_pipe.close()
    try:
        while len(sel.get_map()) > 0:
            if time.monotonic() - start > deadline_seconds:
                ending.end(KilledFor.WALL_TIMEOUT)
            elif stop is not None and stop.is_set():
                ending.end(KilledFor.STOPPED)
            ending.enforce()
            for key, _ in sel.select(timeout=0.25):
                name = key.data
                if name == "stdin":
                    try:
                        pending = pending[os.write(stdin_pipe.fileno(), pending[:READ_CHUNK]):]
                    except (BrokenPipeError, OSError):
                        pending = memoryview(b"")
                    if not pending:
                        sel.unregister(stdin_pipe)
                        stdin_pipe.close()
                    continue
                captures.add(name, read_ready(sel, key))
                if captures.over_cap(name):
                    ending.end(KilledFor.OUTPUT_LIMIT)
        returncode, cpu_seconds = reap(proc)
    finally:
        sel.close()
        os.close(log_read_fd)
        for stream in (stdin_pipe, stdout_pipe, stderr_pipe):
            if not stream.closed:
                stream.close()
        if proc.poll() is None:
            signal_group(proc, signal.SIGKILL)
            proc.wait()
    return captures.outcome(returncode, time.monotonic() - start, cpu_seconds, ending.killed_for)
