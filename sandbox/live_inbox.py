"""A live run's incoming events: `LiveSession.receive` blocks, so a thread of its own reads them
and hands them to the run's select loop through a queue; a byte on a pipe wakes the loop at once,
so input reaches the program within a millisecond, not a polling interval."""
from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager

from .live import ClientEvent, LiveSession, Stop

log = logging.getLogger(__name__)

RECEIVE_SECONDS = 0.1  # one receive's wait: how long the end of a run may wait for its reader
CLOSE_WAIT_SECONDS = 5.0  # a reader stuck in receive longer than this is left behind
READERS_MAX = 256  # live runs at once in one worker process


def _readers() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=READERS_MAX, thread_name_prefix="live-input")


# Readers are pooled threads: on cgroup v1 each lives in a CPU accounting group of its own (see
# live_runner), and reused threads keep the number of such groups to the most runs at once.
_READERS = _readers()


def _after_fork() -> None:
    global _READERS
    _READERS = _readers()  # a forked child has none of its parent's threads: it starts its own


os.register_at_fork(after_in_child=_after_fork)


class Inbox:
    """Call start() once, then take() whenever fileno() is readable; close() at the end (also
    when it never started)."""

    def __init__(self, session: LiveSession, own_cpu: Callable[[], AbstractContextManager[object]]):
        """`own_cpu` is entered by the reader thread around its work (what it spends is not the program's)."""
        self._session, self._own_cpu = session, own_cpu
        self._events: queue.SimpleQueue[ClientEvent] = queue.SimpleQueue()
        self._wake_read, self._wake_write = -1, -1
        self._closing = threading.Event()
        self._room = threading.Event()  # clear: the loop holds all the input it will, wait
        self._room.set()
        self._done = threading.Event()

    def fileno(self) -> int:
        return self._wake_read

    def start(self) -> None:
        # the pipe is in place before the reader starts: input already waiting in the channel is
        # delivered at once, and its wake-up byte must not go to an fd not set yet (then lost)
        self._wake_read, self._wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            _READERS.submit(self._read)
        except BaseException:
            os.close(self._wake_read)
            os.close(self._wake_write)
            self._wake_read = self._wake_write = -1
            raise

    def take(self) -> list[ClientEvent]:
        """Every event received since the last take."""
        try:
            while os.read(self._wake_read, 4096):
                pass
        except BlockingIOError:
            pass
        events = []
        while True:
            try:
                events.append(self._events.get_nowait())
            except queue.Empty:
                return events

    def hold(self, full: bool) -> None:
        """Full: receive nothing more until the program has read some of its input."""
        if full:
            self._room.clear()
        else:
            self._room.set()

    def close(self) -> None:
        if self._wake_read < 0:
            return  # never started
        self._closing.set()
        self._room.set()
        if not self._done.wait(CLOSE_WAIT_SECONDS):
            log.warning("a live run's input reader did not stop within %g s", CLOSE_WAIT_SECONDS)
        os.close(self._wake_read)  # the reader closes the write end

    def _read(self) -> None:
        try:
            with self._own_cpu():
                self._receive_until_closed()
        except Exception as exc:  # the channel failed: the run ends as if its caller left
            log.warning("a live run's input channel failed: %s", exc)
            self._deliver(Stop(f"the caller's channel failed: {exc}"))
        finally:
            os.close(self._wake_write)
            self._done.set()

    def _receive_until_closed(self) -> None:
        while not self._closing.is_set():
            if not self._room.wait(RECEIVE_SECONDS):
                continue
            event = self._session.receive(RECEIVE_SECONDS)
            if event is None:
                continue
            self._deliver(event)
            if isinstance(event, Stop):
                return

    def _deliver(self, event: ClientEvent) -> None:
        self._events.put(event)
        try:
            os.write(self._wake_write, b"\0")
        except (BlockingIOError, BrokenPipeError):  # already woken; or the run has ended
            pass
