"""Terminal mode's pseudo-terminal, host side: the worker holds the master, the jail gets the
slave as its fds 0, 1 and 2 (so the program's isatty() is true and its stdout line-buffered).
The jail's session has no controlling terminal (nsjail calls setsid), so what the kernel would
do for one is done here: SIGWINCH on a resize, and the signal characters typed (^C, ^\\, ^Z)
signalled to the program."""
from __future__ import annotations

import fcntl
import os
import signal
import struct
import termios

from .live import Terminal

SIZE_MAX = 0xFFFF  # a window size field is 16 bits
_TYPED = ((termios.VINTR, signal.SIGINT), (termios.VQUIT, signal.SIGQUIT), (termios.VSUSP, signal.SIGTSTP))


def open_terminal(size: Terminal) -> tuple[int, int]:
    """(master, slave) of a new pseudo-terminal of this size; the master does not block."""
    master, slave = os.openpty()
    try:
        set_size(master, size.cols, size.rows)
        os.set_blocking(master, False)
    except BaseException:
        os.close(master)
        os.close(slave)
        raise
    return master, slave


def set_size(master: int, cols: int, rows: int) -> None:
    cols, rows = (max(1, min(value, SIZE_MAX)) for value in (cols, rows))
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def _modes(master: int) -> tuple[int, list[bytes | int]] | None:
    """The terminal's local modes and control characters (the slave's, read through the
    master); None once it is gone."""
    try:
        modes = termios.tcgetattr(master)
    except termios.error:
        return None
    return int(modes[3]), list(modes[6])


def end_of_input(master: int) -> bytes:
    """What typing ^D sends: the terminal's end-of-file character (a read then returns what was typed)."""
    modes = _modes(master)
    eof = modes[1][termios.VEOF] if modes else b"\x04"
    return eof if isinstance(eof, bytes) else bytes([eof])


def typed_signals(master: int, data: bytes) -> list[int]:
    """The signals these keystrokes raise, as the line discipline would for a controlling terminal
    (the characters still go in: the terminal echoes them and drops the line typed so far)."""
    modes = _modes(master)
    if modes is None or not modes[0] & termios.ISIG:
        return []
    chars = modes[1]
    return [int(signum) for index, signum in _TYPED
            if isinstance(chars[index], bytes) and chars[index] not in (b"", b"\x00") and chars[index] in data]
