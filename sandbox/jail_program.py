"""The program inside a running jail, seen from the host: nsjail's one child is tini (the jail's
init), whose child is the program, in a process group of its own (tini makes it one, as a shell
does a job). Signals for the program go to that group: the program and whatever it started."""
from __future__ import annotations

import os
import signal

from .live import SIGNALS


def signal_number(name: str) -> int | None:
    """The signal a caller names ("INT", "SIGINT"), if it is one a caller may send."""
    short = name.upper().removeprefix("SIG")
    return int(signal.Signals[f"SIG{short}"]) if short in SIGNALS else None


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(child) for child in fh.read().split()]
    except OSError:  # gone
        return []


def signal_program(nsjail_pid: int, signum: int) -> bool:
    """Sends `signum` to the program's process group; before the program starts or after it
    ended, to tini (which passes it on to its child, or ends the jail for SIGKILL). False when
    the jail is gone."""
    inits = _children(nsjail_pid)
    if not inits:
        return False
    programs = _children(inits[0])
    try:
        if programs:
            os.killpg(os.getpgid(programs[0]), signum)
        else:
            os.kill(inits[0], signum)
    except ProcessLookupError:
        return False
    return True
