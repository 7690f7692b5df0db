"""A live run's process: nsjail started on a pseudo-terminal or on pipes of the worker's, fed
input as its caller sends it, its output reported as it is read, the caller's signals and window
sizes passed on; ended at its limits (wall clock, idle, output cap) or at once when the caller
stops it. What it captures is a ProcessOutcome like any stage's: the verdict is made the same way."""
from __future__ import annotations

import logging
import os
import selectors
import signal
import subprocess
import time
from dataclasses import dataclass, field

from .jail_program import signal_number, signal_program
from .live import (
    ClientEvent,
    EndOfInput,
    Input,
    LiveSession,
    Output,
    Resize,
    SendSignal,
    Stage,
    StageStarted,
    Stop,
    Stream,
    Terminal,
)
from .live_inbox import Inbox
from .live_terminal import end_of_input, open_terminal, set_size, typed_signals
from .process import (
    READ_CHUNK,
    Captures,
    Ending,
    KilledFor,
    Launch,
    ProcessOutcome,
    Stdio,
    read_ready,
    reap,
    signal_group,
)
from .sanitize import StreamText

log = logging.getLogger(__name__)

PENDING_INPUT_CAP = 1 << 20  # input the program has not read yet; beyond, no more is received
STOP_GRACE_SECONDS = 0.5  # a stopped run's nsjail gets this long to end the jail before SIGKILL
CHECK_SECONDS = 1.0  # the loop looks at its limits at least this often
_INBOX, _INPUT = "inbox", "stdin"
_OUTPUTS = ("stdout", "stderr", "log")  # the run lasts while one of these is open


@dataclass(frozen=True)
class LiveOptions:
    terminal: Terminal | None  # None: pipes
    idle_seconds: float
    output_cap: int
    grace: float  # a killed nsjail's time to end the jail before SIGKILL


@dataclass
class LiveReport:
    """What the run's caller did to it, beyond what the outcome says."""
    stop_reason: str | None = None  # it stopped the run
    idle: bool = False  # the run ended at its idle limit
    signals: list[int] = field(default_factory=list)  # the signals it sent the program


class LiveProcess:
    """One run: call run() once."""

    def __init__(self, session: LiveSession, inbox: Inbox, options: LiveOptions):
        self.session, self.inbox, self.options = session, inbox, options
        self.report = LiveReport()
        self.captures = Captures(options.output_cap)
        clean = options.terminal is None  # a terminal's escape sequences are passed on, on purpose
        self.texts = {"stdout": StreamText(clean), "stderr": StreamText(clean)}
        self.streams = {"stdout": Stream.OUTPUT if options.terminal else Stream.STDOUT, "stderr": Stream.STDERR}
        self.sel = selectors.DefaultSelector()
        self.pending = bytearray()  # input not yet written
        self.input_fd: int | None = None
        self.input_ended = False  # pipes: once what is pending is written, the pipe closes
        self.idle_at = 0.0
        self.own_fds: set[int] = set()  # the worker's ends, closed at the end at the latest

    def run(self, launch: Launch, deadline_seconds: float) -> ProcessOutcome:
        """Owns the launch's log pipe ends: they are closed whatever happens."""
        log_pipe = {launch.log_read_fd, launch.log_write_fd}
        self.own_fds |= log_pipe
        try:
            stdio, self.input_fd, outputs = self._open_stdio()
            self.own_fds |= {self.input_fd, *outputs}
            try:
                self.session.send(StageStarted(Stage.RUN))
                self.own_fds -= log_pipe  # start() closes the write end, and on failure the read end too
                proc = launch.start(stdio)
                self.own_fds.add(launch.log_read_fd)
            finally:
                _close_all(set(stdio))  # the jail's ends: the worker keeps only its own
        except BaseException:
            _close_all(self.own_fds)
            raise
        try:
            for fd, name in [*outputs.items(), (launch.log_read_fd, "log")]:
                os.set_blocking(fd, False)
                self.sel.register(fd, selectors.EVENT_READ, name)
            os.set_blocking(self.input_fd, False)
            self.inbox.start()
            self.sel.register(self.inbox.fileno(), selectors.EVENT_READ, _INBOX)
            return self._watch(proc, deadline_seconds)
        finally:
            self.inbox.close()
            self.sel.close()
            _close_all(self.own_fds)
            if proc.poll() is None:
                signal_group(proc, signal.SIGKILL)
                proc.wait()

    def _open_stdio(self) -> tuple[Stdio, int, dict[int, str]]:
        """(the jail's fds 0, 1, 2; where its input is written; the fds its output is read from)."""
        if self.options.terminal is not None:
            master, slave = open_terminal(self.options.terminal)
            return (slave, slave, slave), master, {master: "stdout"}
        fds: list[int] = []
        try:
            for _ in range(3):
                fds.extend(os.pipe())
        except BaseException:
            _close_all(set(fds))
            raise
        stdin_read, stdin_write, stdout_read, stdout_write, stderr_read, stderr_write = fds
        return (stdin_read, stdout_write, stderr_write), stdin_write, {stdout_read: "stdout", stderr_read: "stderr"}

    def _watch(self, proc: subprocess.Popen[bytes], deadline_seconds: float) -> ProcessOutcome:
        start = time.monotonic()
        deadline_at, self.idle_at = start + deadline_seconds, start + self.options.idle_seconds
        ending = Ending(proc, self.options.grace)
        while any(key.data in _OUTPUTS for key in self.sel.get_map().values()):
            now = time.monotonic()
            if now > deadline_at:
                ending.end(KilledFor.WALL_TIMEOUT)
            elif now > self.idle_at and ending.killed_for is None:
                self.report.idle = True
                ending.end(KilledFor.WALL_TIMEOUT)
            for key, mask in self.sel.select(self._wait(ending, min(deadline_at, self.idle_at) - now)):
                if key.data == _INBOX:
                    self._handle(self.inbox.take(), proc, ending)
                    continue
                if mask & selectors.EVENT_WRITE:
                    self._write_input()
                if mask & selectors.EVENT_READ and key.fd in self.sel.get_map():
                    self._read_output(key, ending)
        returncode, cpu_seconds = reap(proc)
        return self.captures.outcome(returncode, time.monotonic() - start, cpu_seconds, ending.killed_for)

    @staticmethod
    def _wait(ending: Ending, limit_in: float) -> float:
        """How long the next select may wait: until a limit is reached, or the SIGKILL is due."""
        kill_in = ending.enforce()
        due = limit_in if ending.killed_for is None else kill_in
        return CHECK_SECONDS if due is None else max(0.0, min(CHECK_SECONDS, due))

    # ---- output ----------------------------------------------------------------------------

    def _read_output(self, key: selectors.SelectorKey, ending: Ending) -> None:
        name = key.data
        if key.fd == self.input_fd and self.options.terminal is not None:
            data = self._read_terminal(key)
        else:
            data = read_ready(self.sel, key)
        if name == "log":
            self.captures.add(name, data)
            return
        kept = self.captures.add(name, data)
        if self.captures.over_cap(name):
            ending.end(KilledFor.OUTPUT_LIMIT)
        if data:
            self.idle_at = time.monotonic() + self.options.idle_seconds
        self._report(name, self.texts[name].feed(kept, final=not data))

    def _read_terminal(self, key: selectors.SelectorKey) -> bytes:
        """The master is read and written on one registration: at its end, input goes too."""
        data = read_ready(self.sel, key)
        if not data:
            self.pending.clear()
            self.input_fd = None
            self._close(key.fd)
        return data

    def _report(self, name: str, text: str) -> None:
        if text:
            self.session.send(Output(self.streams[name], text))

    # ---- input -----------------------------------------------------------------------------

    def _handle(self, events: list[ClientEvent], proc: subprocess.Popen[bytes], ending: Ending) -> None:
        for event in events:
            if isinstance(event, Input):
                self._add_input(event.data, proc)
            elif isinstance(event, EndOfInput):
                self._end_input()
            elif isinstance(event, SendSignal):
                self._signal(proc, event.name)
            elif isinstance(event, Resize):
                self._resize(proc, event)
            elif isinstance(event, Stop):
                self.report.stop_reason = self.report.stop_reason or event.reason
                ending.end(KilledFor.STOPPED, STOP_GRACE_SECONDS)
        self._watch_input()

    def _add_input(self, data: bytes, proc: subprocess.Popen[bytes]) -> None:
        if self.input_fd is None or self.input_ended:
            return  # the program's input is closed: nothing more reaches it
        self.idle_at = time.monotonic() + self.options.idle_seconds
        if self.options.terminal is not None:
            data, signals = typed_signals(self.input_fd, data)
            for signum in signals:
                self._send(proc, signum)
        self.pending += data

    def _end_input(self) -> None:
        self.idle_at = time.monotonic() + self.options.idle_seconds
        if self.input_fd is None or self.input_ended:
            return
        if self.options.terminal is not None:  # as typing ^D: the program's read returns
            self.pending += end_of_input(self.input_fd)
        else:
            self.input_ended = True

    def _signal(self, proc: subprocess.Popen[bytes], name: str) -> None:
        signum = signal_number(name)
        if signum is None:
            log.warning("a live run's caller sent an unknown signal %r", name)
            return
        self._send(proc, signum)

    def _send(self, proc: subprocess.Popen[bytes], signum: int) -> None:
        self.report.signals.append(signum)
        signal_program(proc.pid, signum)

    def _resize(self, proc: subprocess.Popen[bytes], size: Resize) -> None:
        if self.options.terminal is None or self.input_fd is None:
            return  # pipes have no window
        set_size(self.input_fd, size.cols, size.rows)
        signal_program(proc.pid, signal.SIGWINCH)

    def _write_input(self) -> None:
        if self.input_fd is None:
            return
        try:
            del self.pending[:os.write(self.input_fd, self.pending[:READ_CHUNK])]
        except BlockingIOError:
            pass
        except OSError:  # the program closed its input (or the terminal is gone): what is left is dropped
            self.pending.clear()
            self.input_ended = True
        self._watch_input()

    def _watch_input(self) -> None:
        """Registers the input fd for writing while there is input for it; closes a pipe at its end."""
        self.inbox.hold(len(self.pending) >= PENDING_INPUT_CAP)
        fd = self.input_fd
        if fd is None:
            return
        terminal = self.options.terminal is not None
        if not self.pending and self.input_ended and not terminal:
            if fd in self.sel.get_map():
                self.sel.unregister(fd)
            self._close(fd)
            self.input_fd = None
            return
        events = (selectors.EVENT_READ if terminal else 0) | (selectors.EVENT_WRITE if self.pending else 0)
        registered = self.sel.get_map().get(fd)
        if registered is None and events:
            self.sel.register(fd, events, "stdout" if terminal else _INPUT)
        elif registered is not None and not events:
            self.sel.unregister(fd)
        elif registered is not None and registered.events != events:
            self.sel.modify(fd, events, registered.data)

    def _close(self, fd: int) -> None:
        self.own_fds.discard(fd)
        os.close(fd)


def _close_all(fds: set[int]) -> None:
    for fd in fds:
        os.close(fd)
    fds.clear()
