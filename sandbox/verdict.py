"""Turns evidence (cgroup counters, nsjail log, worker kills) into a run status."""
from __future__ import annotations

import signal

from .cgroups import Usage
from .process import KilledFor, ProcessOutcome
from .status import ExecutionStatus

NSJAIL_WALL_TIMEOUT = "run time >= time limit"
NSJAIL_STARTED = "Executing '"
CPU_SLACK = 0.95
SIGKILL_STATUS = 128 + signal.SIGKILL  # RLIMIT_CPU kills (soft = hard limit)
_PIDS_TOO = {False: "", True: " (the process limit was reached too)"}  # e.g. a fork bomb that ran out the clock


def signal_name(returncode: int) -> str | None:
    """The signal whose death tini would report as this status (128+n, the shell convention)."""
    return _signal_of(returncode - 128) if 128 < returncode < 128 + 65 else None


def _signal_of(number: int) -> str | None:
    try:
        return signal.Signals(number).name
    except ValueError:
        return None


def classify(outcome: ProcessOutcome, usage: Usage, cpu_limit: float) -> tuple[ExecutionStatus, str | None]:
    """(status, message) for a finished stage."""
    if NSJAIL_STARTED not in outcome.log and outcome.killed_for is None:
        return ExecutionStatus.INTERNAL_ERROR, "sandbox failed to start: " + outcome.log.strip()[-500:]
    if outcome.killed_for == KilledFor.OUTPUT_LIMIT:
        return ExecutionStatus.OUTPUT_LIMIT, "output exceeded the limit and was truncated"
    if usage.oom_killed:
        return ExecutionStatus.MEMORY_LIMIT, "killed: memory limit exceeded"
    if outcome.killed_for == KilledFor.WALL_TIMEOUT or NSJAIL_WALL_TIMEOUT in outcome.log:
        return ExecutionStatus.TIMEOUT, "killed: wall-clock time limit exceeded" + _PIDS_TOO[usage.pids_limited]
    if outcome.returncode < 0:  # nsjail itself died of a signal the worker did not send
        killer = _signal_of(-outcome.returncode) or f"signal {-outcome.returncode}"
        return ExecutionStatus.INTERNAL_ERROR, f"the sandbox was killed ({killer}); the program did not finish"
    if outcome.returncode == SIGKILL_STATUS and usage.cpu_seconds >= cpu_limit * CPU_SLACK:
        return ExecutionStatus.TIMEOUT, "killed: CPU time limit exceeded" + _PIDS_TOO[usage.pids_limited]
    if outcome.returncode == 0:
        return ExecutionStatus.SUCCESS, None
    if usage.pids_limited:
        return ExecutionStatus.ERROR, "process limit reached"
    name = signal_name(outcome.returncode)
    if name:  # a program's own exit(128+n) looks the same, so this is a hint, not a verdict
        return ExecutionStatus.ERROR, f"exit status {outcome.returncode}: the status of a process killed by {name}"
    return ExecutionStatus.ERROR, None
