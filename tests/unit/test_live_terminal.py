"""Terminal mode's host side (sandbox/live_terminal.py) and the signal names a caller may send
(sandbox/jail_program.py): a pseudo-terminal needs no root."""
import os
import signal
import termios

import pytest

from sandbox.jail_program import signal_number
from sandbox.live import SIGNALS, Terminal
from sandbox.live_terminal import SIZE_MAX, end_of_input, open_terminal, set_size, typed_signals


@pytest.fixture
def terminal():
    master, slave = open_terminal(Terminal(cols=100, rows=30))
    yield master, slave
    os.close(master)
    os.close(slave)


def test_a_terminal_starts_at_its_size_and_takes_a_new_one(terminal):
    master, slave = terminal
    assert os.get_terminal_size(slave) == (100, 30)
    assert not os.get_blocking(master)
    set_size(master, 132, 50)
    assert os.get_terminal_size(slave) == (132, 50)
    set_size(master, 0, SIZE_MAX + 5)  # out of range: clamped, never an error
    assert os.get_terminal_size(slave) == (1, SIZE_MAX)


def test_the_signal_characters_typed_become_signals_while_the_terminal_has_isig(terminal):
    master, slave = terminal
    assert typed_signals(master, b"abc\x03") == (b"abc", [signal.SIGINT])
    assert typed_signals(master, b"\x1ca\x1a") == (b"a", [signal.SIGQUIT, signal.SIGTSTP])
    assert typed_signals(master, b"plain\n") == (b"plain\n", [])
    modes = termios.tcgetattr(slave)
    modes[3] &= ~termios.ISIG  # a program in raw mode reads ^C itself
    termios.tcsetattr(slave, termios.TCSANOW, modes)
    assert typed_signals(master, b"\x03") == (b"\x03", [])


def test_end_of_input_is_the_terminals_eof_character(terminal):
    master, slave = terminal
    assert end_of_input(master) == b"\x04"
    modes = termios.tcgetattr(slave)
    modes[6][termios.VEOF] = b"\x1a"
    termios.tcsetattr(slave, termios.TCSANOW, modes)
    assert end_of_input(master) == b"\x1a"


def test_a_caller_names_signals_with_or_without_sig():
    assert signal_number("INT") == signal_number("SIGINT") == signal_number("sigint") == signal.SIGINT
    assert signal_number("KILL") == signal.SIGKILL
    assert all(signal_number(name) for name in SIGNALS)
    assert signal_number("SEGV") is None and signal_number("BOGUS") is None  # not one a caller may send
