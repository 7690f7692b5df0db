"""Live runs in the sandbox (sandbox.run_live), driven directly as root with real nsjail: the test
plays the caller through an in-memory LiveSession, in pipe and terminal modes."""
from __future__ import annotations

import dataclasses
import os
import queue
import resource
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from sandbox import ExecutionStatus, Runner, RunResult, RunSpec, registry, run_live
from sandbox.live import (
    ClientEvent,
    EndOfInput,
    Input,
    LiveLimits,
    Output,
    Resize,
    RunEvent,
    SendSignal,
    Stage,
    StageEnded,
    StageStarted,
    Stop,
    Stream,
    Terminal,
)
from sandbox.settings import SandboxSettings
from tests.support.languages import installed
from tests.support.polling import wait_until

pytestmark = pytest.mark.sandbox  # the database and Redis behind it do not matter: one CI pass

TTY = Terminal(cols=80, rows=24)


class MemorySession:
    """A LiveSession in memory: the test is the caller. Every event sent is kept with its time."""

    def __init__(self):
        self._incoming: queue.Queue[ClientEvent] = queue.Queue()
        self._changed = threading.Condition()
        self.events: list[tuple[float, RunEvent]] = []

    def send(self, event: RunEvent) -> None:
        with self._changed:
            self.events.append((time.monotonic(), event))
            self._changed.notify_all()

    def receive(self, timeout: float) -> ClientEvent | None:
        try:
            return self._incoming.get(timeout=timeout)
        except queue.Empty:
            return None

    def put(self, *events: ClientEvent) -> None:
        for event in events:
            self._incoming.put(event)

    def outputs(self, *streams: Stream) -> list[tuple[float, Output]]:
        with self._changed:
            return [(at, e) for at, e in self.events if isinstance(e, Output) and (not streams or e.stream in streams)]

    def text(self, *streams: Stream) -> str:
        return "".join(e.text for _, e in self.outputs(*streams))

    def wait_for(self, needle: str, seconds: float = 10.0, *streams: Stream) -> float:
        """The time `needle` had arrived (in the streams' text joined up), waiting for it."""
        deadline = time.monotonic() + seconds
        with self._changed:
            while needle not in self.text(*streams):
                if not self._changed.wait(max(0.0, deadline - time.monotonic())):
                    raise AssertionError(f"{needle!r} did not arrive; got {self.text()!r}")
            return time.monotonic()

    def kinds(self) -> list[RunEvent]:
        """The events that are not output, in order."""
        return [e for _, e in self.events if not isinstance(e, Output)]


@pytest.fixture(scope="module")
def runner(stack_env) -> Iterator[Runner]:
    runner = Runner(dataclasses.replace(SandboxSettings.from_env(), warm_compilers=False))
    runner.prepare()
    yield runner
    runner.close()


@pytest.fixture(scope="module")
def pool():
    with ThreadPoolExecutor(8, thread_name_prefix="live-test") as pool:
        yield pool


@pytest.fixture
def live(runner, pool):
    """start(code, ...) -> (session, future result): the run goes on in a thread of its own."""
    def start(code: str, language: str = "python", terminal: Terminal | None = None, idle: float = 60.0,
              **spec) -> tuple[MemorySession, Future[RunResult]]:
        session = MemorySession()
        run_spec = RunSpec(language=registry().get(installed(language)), code=code, **{"timeout": 15, **spec})
        return session, pool.submit(run_live, runner, run_spec, session, terminal, LiveLimits(idle))
    return start


ASK_NAME = """import os
print("tty", os.isatty(0), os.isatty(1))
name = input("Name: ")
print("hi", name)
"""


def test_python_input_is_answered_on_pipes(live):
    session, result = live(ASK_NAME)
    session.wait_for("Name: ")
    session.put(Input(b"Ada\n"))
    done = result.result(timeout=20)
    assert (done.status, done.stdout, done.stderr) == (ExecutionStatus.SUCCESS, "tty False False\nName: hi Ada\n", "")
    assert session.text(Stream.STDOUT) == done.stdout and not session.outputs(Stream.OUTPUT)
    assert session.kinds() == [StageStarted(Stage.RUN), StageEnded(Stage.RUN, ExecutionStatus.SUCCESS, 0, None)]
    assert done.wall_time > 0 and done.cpu_time > 0 and done.memory_kb > 0


def test_python_input_is_answered_on_a_terminal_that_echoes_it(live):
    session, result = live(ASK_NAME, terminal=TTY)
    session.wait_for("Name: ")
    session.put(Input(b"Ada\r"))  # what a terminal sends for Enter
    done = result.result(timeout=20)
    assert done.status == ExecutionStatus.SUCCESS, done
    assert session.text(Stream.OUTPUT) == "tty True True\r\nName: Ada\r\nhi Ada\r\n"  # the echo is the terminal's
    assert done.stdout == "tty True True\nName: Ada\nhi Ada\n"  # the transcript, sanitized
    assert not session.outputs(Stream.STDOUT, Stream.STDERR)


def test_a_c_prompt_without_newline_arrives_before_any_input(live):
    code = '#include <stdio.h>\nint main(void) { char name[64]; printf("Name: ");\n' \
           '  if (scanf("%63s", name) == 1) printf("hi %s\\n", name); return 0; }\n'
    session, result = live(code, language="c", terminal=TTY)
    session.wait_for("Name: ")  # no input sent yet, no fflush: the terminal makes stdout line-buffered...
    assert not result.done()  # ...and the program waits for its answer
    session.put(Input(b"Bo\n"))
    done = result.result(timeout=20)
    assert (done.status, done.stdout) == (ExecutionStatus.SUCCESS, "Name: Bo\nhi Bo\n"), done
    kinds = session.kinds()
    assert kinds[:3] == [StageStarted(Stage.COMPILE), StageEnded(Stage.COMPILE, ExecutionStatus.SUCCESS, 0, None),
                         StageStarted(Stage.RUN)]
    assert kinds[3:] == [StageEnded(Stage.RUN, ExecutionStatus.SUCCESS, 0, None)]


def test_a_compile_error_is_reported_through_the_compile_events(live):
    session, result = live("int main(void) { return nope; }\n", language="c")
    done = result.result(timeout=30)
    assert done.status == ExecutionStatus.COMPILE_ERROR and "nope" in done.compile_output
    assert session.kinds() == [StageStarted(Stage.COMPILE),
                               StageEnded(Stage.COMPILE, ExecutionStatus.COMPILE_ERROR, None, None)]
    assert session.text(Stream.COMPILE) == done.compile_output


@pytest.mark.parametrize("terminal", [None, TTY], ids=["pipes", "terminal"])
def test_output_arrives_as_it_is_printed(live, terminal):
    flush = "" if terminal else ", flush=True"  # on pipes the program's own buffer holds it otherwise
    session, result = live(f"import time\nprint('first'{flush})\ntime.sleep(1)\nprint('second')\n", terminal=terminal)
    first = session.wait_for("first")
    done = result.result(timeout=20)
    ended = next(at for at, e in session.events if isinstance(e, StageEnded))
    assert done.status == ExecutionStatus.SUCCESS and "second" in session.text()
    assert ended - first > 0.8  # the first line came about a second before the end


@pytest.mark.parametrize("terminal", [None, TTY], ids=["pipes", "terminal"])
def test_end_of_input_ends_the_programs_input(live, terminal):
    session, result = live("import sys\nprint('ready', flush=True)\nprint('read', len(sys.stdin.read()))\n",
                           terminal=terminal)
    session.wait_for("ready")
    session.put(Input(b"abc"), EndOfInput())  # on a terminal: as typing ^D after abc, then ^D again
    if terminal:
        session.put(EndOfInput())
    done = result.result(timeout=20)
    assert done.status == ExecutionStatus.SUCCESS and "read 3\n" in done.stdout, done


KEYBOARD_INTERRUPT = """import time
try:
    print("ready", flush=True)
    time.sleep(30)
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


def test_sigint_reaches_the_programs_keyboard_interrupt_handler(live):
    session, result = live(KEYBOARD_INTERRUPT)
    session.wait_for("ready")
    sent = time.monotonic()
    session.put(SendSignal("INT"))
    assert session.wait_for("interrupted") - sent < 1.0
    done = result.result(timeout=20)
    assert (done.status, done.stdout) == (ExecutionStatus.SUCCESS, "ready\ninterrupted\n"), done


def test_ctrl_c_typed_on_the_terminal_interrupts_the_program(live):
    session, result = live(KEYBOARD_INTERRUPT, terminal=TTY)
    session.wait_for("ready")
    session.put(Input(b"\x03"))
    session.wait_for("interrupted")
    assert result.result(timeout=20).status == ExecutionStatus.SUCCESS


def test_kill_ends_the_program(live):
    session, result = live("import time\nprint('ready', flush=True)\nwhile True:\n    time.sleep(1)\n")
    session.wait_for("ready")
    session.put(SendSignal("SIGKILL"))
    done = result.result(timeout=5)
    assert (done.status, done.returncode, done.signal) == (ExecutionStatus.ERROR, 137, "SIGKILL"), done
    assert session.kinds()[-1] == StageEnded(Stage.RUN, ExecutionStatus.ERROR, 137, "SIGKILL")


def _processes_with(token: str) -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if token.encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            pass
    return found


FORKS_AND_WAITS = """import os, sys, time
for _ in range(3):
    if os.fork() == 0:
        time.sleep(60)
print("ready", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("terminal", [None, TTY], ids=["pipes", "terminal"])
def test_stop_ends_the_jail_within_a_second(live, terminal):
    token = uuid.uuid4().hex  # in every jailed process's command line
    session, result = live(FORKS_AND_WAITS, terminal=terminal, args=(token,))
    session.wait_for("ready")
    assert len(_processes_with(token)) >= 4  # the program and its children
    stopped = time.monotonic()
    session.put(Stop("the caller disconnected"))
    wait_until(lambda: not _processes_with(token), 1.0, interval=0.01, what="the jail's processes gone")
    gone = time.monotonic() - stopped
    done = result.result(timeout=5)
    print(f"\nstopped ({'terminal' if terminal else 'pipes'}): jail gone after {gone * 1e3:.0f} ms, "
          f"result after {(time.monotonic() - stopped) * 1e3:.0f} ms")
    assert time.monotonic() - stopped < 1.0
    assert (done.status, done.message) == (ExecutionStatus.STOPPED, "stopped: the caller disconnected"), done
    assert done.wall_time > 0 and done.memory_kb > 0  # billed for what it used
    assert session.kinds()[-1].status == ExecutionStatus.STOPPED


def test_the_idle_limit_ends_a_run_with_neither_input_nor_output(live):
    session, result = live("input()\n", idle=1.0)
    done = result.result(timeout=10)
    assert done.status == ExecutionStatus.TIMEOUT and "idle" in done.message, done
    assert 0.9 < done.wall_time < 3


def test_the_wall_clock_limit_holds_for_a_run_that_keeps_talking(live):
    session, result = live("import time\nwhile True:\n    print('tick', flush=True)\n    time.sleep(0.2)\n",
                           timeout=2, idle=1.0)
    done = result.result(timeout=10)
    assert (done.status, done.message) == (ExecutionStatus.TIMEOUT, "killed: wall-clock time limit exceeded"), done
    assert 1.9 < done.wall_time < 3 and session.text().count("tick") >= 8


def test_input_and_output_keep_a_run_from_being_idle(live):
    session, result = live("for _ in range(4):\n    print(input(), flush=True)\n", idle=1.0)
    for n in range(4):
        time.sleep(0.6)
        session.put(Input(b"%d\n" % n))
    done = result.result(timeout=10)
    assert (done.status, done.stdout) == (ExecutionStatus.SUCCESS, "0\n1\n2\n3\n"), done


@pytest.mark.parametrize("terminal", [None, TTY], ids=["pipes", "terminal"])
def test_endless_output_stops_at_the_cap(live, runner, terminal):
    cap = runner.settings.output_limit_bytes
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    session, result = live("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n", terminal=terminal)
    done = result.result(timeout=20)
    assert done.status == ExecutionStatus.OUTPUT_LIMIT and done.truncated["stdout"], done
    assert done.stdout == "x" * cap  # the transcript, capped as a run's
    assert session.text() == "x" * cap  # the stream stopped at the cap
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 64 * 1024  # KiB: memory bounded


def test_a_control_sequence_or_character_split_across_reads_arrives_whole_on_pipes(live):
    code = """import sys, time
for part in (b"before \\x1b[3", b"1mred\\x1b[0", b"m after \\xe2\\x82", b"\\xac\\n"):
    sys.stdout.buffer.write(part)
    sys.stdout.flush()
    time.sleep(0.2)
"""
    session, result = live(code)
    done = result.result(timeout=20)
    assert done.stdout == "before red after \u20ac\n"
    texts = [e.text for _, e in session.outputs(Stream.STDOUT)]
    assert "".join(texts) == done.stdout and len(texts) >= 3  # several reads, none with a piece of a sequence
    assert not any("\x1b" in t or "[" in t or "\ufffd" in t for t in texts), texts


def test_a_resize_changes_the_programs_window_size(live):
    code = """import os, signal, subprocess, time
def show(*_):
    print("size", *os.get_terminal_size(), "stty", subprocess.run(["stty", "size"], capture_output=True,
          text=True, stdin=0).stdout.strip(), flush=True)
signal.signal(signal.SIGWINCH, show)
show()
time.sleep(30)
"""
    session, result = live(code, terminal=Terminal(cols=100, rows=30))
    session.wait_for("size 100 30 stty 30 100")
    session.put(Resize(cols=132, rows=43))
    session.wait_for("size 132 43 stty 43 132")
    session.put(Stop("done"))
    assert result.result(timeout=5).status == ExecutionStatus.STOPPED


ECHO = """import sys
print("ready", flush=True)
for line in sys.stdin:
    sys.stdout.write(line)
    sys.stdout.flush()
"""


@pytest.mark.parametrize("terminal", [None, TTY], ids=["pipes", "terminal"])
def test_echo_round_trips_take_about_a_millisecond(live, terminal):
    """Input to the program and its output back: p50 over 200 round trips (printed with -s)."""
    session, result = live(ECHO, terminal=terminal)
    session.wait_for("ready")
    trips = []
    for n in range(200):
        line = f"line {n} end"
        sent = time.monotonic()
        session.put(Input(line.encode() + b"\n"))
        trips.append(session.wait_for(f"{line}\n" if not terminal else f"{line}\r\n{line}\r\n") - sent)
    session.put(EndOfInput(), EndOfInput())
    assert result.result(timeout=20).status == ExecutionStatus.SUCCESS
    p50, p99 = statistics.median(trips), statistics.quantiles(trips, n=100)[98]
    print(f"\necho round trip ({'terminal' if terminal else 'pipes'}): p50 {p50 * 1e3:.2f} ms, p99 {p99 * 1e3:.2f} ms")
    assert p50 < 0.010


def test_a_live_run_leaves_no_file_descriptor_open(live):
    def run_both() -> None:
        for terminal in (None, TTY):
            session, result = live(ASK_NAME, terminal=terminal)
            session.wait_for("Name: ")
            session.put(Input(b"Ada\n"))
            assert result.result(timeout=20).status == ExecutionStatus.SUCCESS
    run_both()  # the first runs open what stays open for every run (pooled threads, the uid lease dir)
    before = sorted(os.listdir("/proc/self/fd"))
    run_both()
    assert sorted(os.listdir("/proc/self/fd")) == before


class BusySession(MemorySession):
    """A caller whose channel costs CPU on the worker (as a real relay's Redis calls do, less so)."""

    def _spin(self, seconds: float) -> None:
        end = time.thread_time() + seconds
        while time.thread_time() < end:
            pass

    def receive(self, timeout: float) -> ClientEvent | None:
        self._spin(0.05)
        return super().receive(timeout)

    def send(self, event: RunEvent) -> None:
        self._spin(0.05)
        super().send(event)


def test_the_cpu_the_worker_spends_talking_to_the_caller_is_not_the_programs(runner, pool):
    session = BusySession()
    code = "import time\nfor n in range(10):\n    print(n, flush=True)\n    time.sleep(0.1)\n"
    spec = RunSpec(language=registry().get("python"), code=code, timeout=15)
    done = pool.submit(run_live, runner, spec, session, None, LiveLimits()).result(timeout=20)
    assert done.status == ExecutionStatus.SUCCESS and done.stdout.split() == [str(n) for n in range(10)]
    assert done.cpu_time < 0.25, done  # the worker spun ~0.5 s receiving and ~0.6 s sending meanwhile
