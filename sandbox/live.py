"""A live run's conversation with its caller, as the sandbox sees it: what the caller may send
(input, end of input, a signal, a window size, stop) and what the run reports (stages, output).
The worker's relay (tasks/live_relay.py) carries both over Redis; the sandbox knows neither Redis
nor the API. `sandbox.run_live` (live_runner.py) drives one run with a `LiveSession`."""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class Stage(StrEnum):
    COMPILE = "compile"
    RUN = "run"


class Stream(StrEnum):
    STDOUT = "stdout"
    STDERR = "stderr"
    OUTPUT = "output"  # terminal mode: the terminal's one stream
    COMPILE = "compile"  # the compiler's stdout and stderr


# the signals a caller may send to its program (by name, without SIG)
SIGNALS = ("INT", "TERM", "KILL", "HUP", "QUIT", "USR1", "USR2", "CONT", "STOP", "WINCH")


@dataclass(frozen=True)
class Terminal:
    """Terminal mode: a pseudo-terminal of this size is the program's stdin, stdout and stderr."""
    cols: int = 80
    rows: int = 24


# ---- from the caller --------------------------------------------------------------------------

@dataclass(frozen=True)
class Input:
    data: bytes


@dataclass(frozen=True)
class EndOfInput:
    pass


@dataclass(frozen=True)
class SendSignal:
    name: str  # one of SIGNALS


@dataclass(frozen=True)
class Resize:
    cols: int
    rows: int


@dataclass(frozen=True)
class Stop:
    """The caller is gone (disconnected, or stopped answering): end the run now."""
    reason: str


ClientEvent = Input | EndOfInput | SendSignal | Resize | Stop


# ---- to the caller ----------------------------------------------------------------------------

@dataclass(frozen=True)
class StageStarted:
    stage: Stage


@dataclass(frozen=True)
class StageEnded:
    stage: Stage
    status: str  # an ExecutionStatus value
    returncode: int | None = None
    signal: str | None = None


@dataclass(frozen=True)
class Output:
    stream: Stream
    text: str  # decoded UTF-8 (a character split across two reads is sent whole with the second)


RunEvent = StageStarted | StageEnded | Output


class LiveSession(Protocol):
    def send(self, event: RunEvent) -> None:
        """Report to the caller. Must not block for long: the relay bounds what it holds."""

    def receive(self, timeout: float) -> ClientEvent | None:
        """The caller's next event, waiting at most `timeout` seconds; None if none came. Returns
        Stop once the caller is gone. Called from one thread of the sandbox's own."""


@dataclass(frozen=True)
class LiveLimits:
    """Beyond the run's own limits (wall clock, CPU, memory, output cap)."""
    idle_seconds: float = 60.0  # no input and no output this long: the run ends (timeout)
