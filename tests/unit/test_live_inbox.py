"""A live run's input reader (sandbox/live_inbox.py): input already waiting when the reader
starts wakes the run's loop. A stand-in session and executor: the order under test (the reader
running before start() returns) is one a busy machine gives now and then."""
from __future__ import annotations

import contextlib
import select

from sandbox import live_inbox
from sandbox.live import Input, Stop


class WaitingInput:
    """A session whose caller sent its input before the run's reader started."""

    def __init__(self, *events):
        self.events = list(events)

    def receive(self, timeout: float):
        return self.events.pop(0) if self.events else None


class RunsAtOnce:
    def submit(self, read):
        read()


def test_input_waiting_before_the_reader_starts_wakes_the_loop(monkeypatch):
    monkeypatch.setattr(live_inbox, "_READERS", RunsAtOnce())
    inbox = live_inbox.Inbox(WaitingInput(Input(b"Ada\n"), Stop("done")), contextlib.nullcontext)
    inbox.start()
    assert select.select([inbox.fileno()], [], [], 0)[0] == [inbox.fileno()]  # the loop is woken
    assert inbox.take() == [Input(b"Ada\n"), Stop("done")]
    inbox.close()
