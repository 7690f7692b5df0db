"""Runs one nsjail process: feeds stdin, reads capped stdout/stderr and the nsjail log."""
from __future__ import annotations

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


class _Capture:
    def __init__(self, cap: int | None):
        self.cap, self.size, self.truncated = cap, 0, False
        self.chunks: list[bytes] = []

    def add(self, data: bytes) -> bool:
        """Keep data up to the cap; returns False once the cap is exceeded."""
        if self.cap is not None and self.size + len(data) > self.cap:
            data, self.truncated = data[: self.cap - self.size], True
        self.chunks.append(data)
        self.size += len(data)
        return not self.truncated

    def value(self) -> bytes:
        return b"".join(self.chunks)


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _reap(proc: subprocess.Popen[bytes]) -> tuple[int, float]:
    """Exit code and CPU seconds of nsjail plus every process it (and tini) reaped."""
    _, status, rusage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, rusage.ru_utime + rusage.ru_stime


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


def _spawn(argv: list[str], log_write_fd: int, join_cgroups: tuple[Path, ...],
           home_cgroups: Callable[[], list[Path]], keep_fds: tuple[int, ...]) -> subprocess.Popen[bytes]:
    """The fork happens inside the run's cgroups, so a parent pids cap filled by other runs
    refuses it (EAGAIN): those runs end within their limits, so wait for a slot, with backoff.
    nsjail inherits `keep_fds` (the uid lease: it stays taken while nsjail lives, even if this
    worker dies); nsjail closes them in the jail, which sees only the fds it passes on."""
    give_up_at, pause = time.monotonic() + SPAWN_WAIT_SECONDS, 0.02
    while True:
        try:
            with _inside(join_cgroups, home_cgroups):
                return subprocess.Popen(
                    argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                    pass_fds=(log_write_fd, *keep_fds), start_new_session=True, close_fds=True, env={},
                )
        except BlockingIOError:
            if time.monotonic() + pause > give_up_at:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.5)


def run_process(argv: list[str], stdin: bytes, log_write_fd: int, log_read_fd: int, output_cap: int,
                deadline_seconds: float, grace: float, join_cgroups: tuple[Path, ...] = (),
                home_cgroups: Callable[[], list[Path]] = list, stop: threading.Event | None = None,
                keep_fds: tuple[int, ...] = ()) -> ProcessOutcome:
    """Owns both log pipe ends: they are closed whatever happens."""
    proc = start_process(argv, log_write_fd, log_read_fd, join_cgroups, home_cgroups, keep_fds)
    return collect(proc, stdin, log_read_fd, output_cap, deadline_seconds, grace, stop)


def start_process(argv: list[str], log_write_fd: int, log_read_fd: int, join_cgroups: tuple[Path, ...] = (),
                  home_cgroups: Callable[[], list[Path]] = list,
                  keep_fds: tuple[int, ...] = ()) -> subprocess.Popen[bytes]:
    """Starts nsjail (closing the log pipe's write end); on failure also closes the read end."""
    try:
        return _spawn(argv, log_write_fd, join_cgroups, home_cgroups, keep_fds)
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
    captures = {"stdout": _Capture(output_cap), "stderr": _Capture(output_cap), "log": _Capture(1 << 20)}
    killed_for: KilledFor | None = None
    term_sent_at: float | None = None
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
            now = time.monotonic() - start
            if killed_for is None and (now > deadline_seconds or (stop is not None and stop.is_set())):
                killed_for = KilledFor.WALL_TIMEOUT if now > deadline_seconds else KilledFor.STOPPED
                term_sent_at = now
                _signal_group(proc, signal.SIGTERM)
            if term_sent_at is not None and now > term_sent_at + grace:
                _signal_group(proc, signal.SIGKILL)
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
                fd = key.fileobj if isinstance(key.fileobj, int) else key.fileobj.fileno()
                data = os.read(fd, READ_CHUNK)
                if not data:
                    sel.unregister(key.fileobj)
                    continue
                if not captures[name].add(data) and killed_for is None:
                    killed_for, term_sent_at = KilledFor.OUTPUT_LIMIT, time.monotonic() - start
                    _signal_group(proc, signal.SIGTERM)
        returncode, cpu_seconds = _reap(proc)
    finally:
        sel.close()
        os.close(log_read_fd)
        for stream in (stdin_pipe, stdout_pipe, stderr_pipe):
            if not stream.closed:
                stream.close()
        if proc.poll() is None:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()
    return ProcessOutcome(
        returncode=returncode, wall_seconds=time.monotonic() - start,
        stdout=captures["stdout"].value(), stderr=captures["stderr"].value(),
        log=captures["log"].value().decode(errors="replace"), cpu_seconds=cpu_seconds,
        truncated={"stdout": captures["stdout"].truncated, "stderr": captures["stderr"].truncated},
        killed_for=killed_for,
    )
