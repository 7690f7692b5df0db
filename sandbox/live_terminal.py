"""Terminal mode's pseudo-terminal, host side: the worker holds the master, the jail gets the
slave as its fds 0, 1 and 2 (so the program's isatty() is true and its stdout line-buffered).
The jail's session has no controlling terminal (nsjail calls setsid; the program's tty is not
its controlling one), so what the kernel would do for one is done here: SIGWINCH on a resize,
and the signal characters typed (^C, ^\\, ^Z) turned into signals for the program."""
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


def typed_signals(master: int, data: bytes) -> tuple[bytes, list[int]]:
    """The keystrokes without their signal characters, and the signals those raise, as the line
    discipline would raise them for a controlling terminal. The characters are not passed on: the
    line discipline would discard output not yet read when it saw them, which by then may be what
    the program printed in answer to the signal."""
    modes = _modes(master)
    if modes is None or not modes[0] & termios.ISIG:
        return data, []
    chars = modes[1]
    signals = {chars[index]: int(signum) for index, signum in _TYPED
               if isinstance(chars[index], bytes) and chars[index] not in (b"", b"\x00")}
    if not any(char in data for char in signals):
        return data, []
    kept, raised = bytearray(), []
    for byte in data:
        char = bytes([byte])
        if char in signals:
            raised.append(signals[char])
        else:
            kept += char
    return bytes(kept), raised
