"""Live runs: `run_live` compiles as any run does (warm compile jails included), reporting the
compile stage as it happens, then runs the program in a fresh jail with a run's limits, argv,
environment, cgroup and uid, talking to its caller through a LiveSession as it runs. The result
is any run's: the transcript capped and sanitized, times and memory measured and classified
the same way."""
from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from .live import LiveLimits, LiveSession, Output, Stage, StageEnded, StageStarted, Stream, Terminal
from .live_inbox import Inbox
from .live_process import LiveOptions, LiveProcess, LiveReport
from .process import READ_CHUNK, Launch, ProcessOutcome
from .runner import Runner, RunResult, RunSpec, _owner_token
from .status import ExecutionStatus
from .verdict import signal_name


def run_live(runner: Runner, spec: RunSpec, session: LiveSession, terminal: Terminal | None,
             limits: LiveLimits) -> RunResult:
    """One run of `spec` in conversation with its caller: on a pseudo-terminal of this size
    (`terminal`), else on pipes. Raises SandboxInfraError as Runner.run does."""
    settings = runner.settings
    options = LiveOptions(terminal, limits.idle_seconds, settings.output_limit_bytes, settings.kill_grace)
    stages = _LiveStages(session, options, lambda: runner.cgroups.thread_cpu(_owner_token()).measure())
    return stages.finished(runner.run(spec, stages))


class _LiveStages:
    """The live run's part in Runner.run's stages (runner.LiveStages)."""

    def __init__(self, session: LiveSession, options: LiveOptions,
                 own_cpu: Callable[[], AbstractContextManager[object]]):
        # own_cpu: entered by the input reader thread. On cgroup v1 a run's CPU is what its
        # spawning thread's accounting group used (cgroups.ThreadCpu), and a thread starts in
        # its creator's group: the reader takes a group of its own, or its CPU would count.
        self.session, self.options, self.own_cpu = session, options, own_cpu
        self.report: LiveReport | None = None  # set once the run stage starts

    def compile(self, compile_now: Callable[[], RunResult]) -> RunResult:
        self.session.send(StageStarted(Stage.COMPILE))
        compiled = compile_now()
        text = compiled.compile_output
        for start in range(0, len(text), READ_CHUNK):  # events no larger than a read's
            self.session.send(Output(Stream.COMPILE, text[start:start + READ_CHUNK]))
        self.session.send(StageEnded(Stage.COMPILE, compiled.status, compiled.returncode, compiled.signal))
        return compiled

    def supervise(self, launch: Launch, deadline_seconds: float) -> ProcessOutcome:
        process = LiveProcess(self.session, Inbox(self.session, self.own_cpu), self.options)
        self.report = process.report
        return process.run(launch, deadline_seconds)

    def finished(self, result: RunResult) -> RunResult:
        """The run's result, told what only the live run knows, and its end reported."""
        report = self.report
        if report is None:  # no run stage: the compile failed, or the files could not be laid out
            return result
        if result.status == ExecutionStatus.STOPPED and report.stop_reason:
            result.message = f"stopped: {report.stop_reason}"
        elif result.status == ExecutionStatus.TIMEOUT and report.idle:
            result.message = f"killed: no input and no output for {self.options.idle_seconds:g} s (the idle limit)"
        if result.signal is None and result.returncode is not None and result.returncode - 128 in report.signals:
            result.signal = signal_name(result.returncode)  # the caller's signal ended it: that is evidence
        self.session.send(StageEnded(Stage.RUN, result.status, result.returncode, result.signal))
        return result
