"""The caller's WebSocket (flask-sock's simple-websocket server), bounded and shared by two threads.

simple-websocket reads the socket in a thread of its own and queues every message it reads, however
many and however large. `FrameBounds` caps both before a message is queued: a message over the frame
cap, or more queued than the relay has taken, gets an error frame and the connection closes
(`GuardedReader` puts the check into that thread). `Caller` sends frames from the relay's two
threads one at a time, and ends the conversation once."""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from flask import current_app, request
from simple_websocket import ConnectionClosed, Server
from wsproto import WSConnection
from wsproto.events import BytesMessage, CloseConnection, Event, TextMessage
from wsproto.utilities import LocalProtocolError

from ..services.live_frames import TOO_BIG, FrameRefused

# queued and not yet taken: a flood, not a caller typing or pasting
QUEUED_FRAMES = 256

Refusal = tuple[dict[str, Any], int, str]  # the error frame, the close code, the close reason


def native_refusal(refused: FrameRefused) -> Refusal:
    return refused.frame(), refused.close, refused.code


# blueprint name -> how its protocol words a refused frame (the native one unless registered)
REFUSALS: dict[str, Callable[[FrameRefused], Refusal]] = {}


class FrameBounds:
    """Sizes of the messages read and not yet taken by the relay (shared by two threads)."""

    def __init__(self, max_frame: int, max_queued_bytes: int):
        self.max_frame, self.max_queued_bytes = max_frame, max_queued_bytes
        self.lock = threading.Lock()
        self.partial = 0  # of the message being read
        self.queued_bytes = 0
        self.queued_frames = 0

    def admit(self, size: int, finished: bool) -> FrameRefused | None:
        with self.lock:
            self.partial += size
            if self.partial > self.max_frame:
                return FrameRefused("frame_too_large", f"a frame has at most {self.max_frame} bytes", TOO_BIG)
            if not finished:
                return None
            self.queued_bytes += self.partial
            self.queued_frames += 1
            self.partial = 0
            if self.queued_bytes > self.max_queued_bytes or self.queued_frames > QUEUED_FRAMES:
                return FrameRefused("input_flood", "frames arrive faster than the run takes them")
            return None

    def taken(self, size: int) -> None:
        with self.lock:
            self.queued_bytes -= size
            self.queued_frames -= 1

    def lower(self, max_frame: int) -> None:
        """After `start`: input frames are smaller than the start frame may be."""
        with self.lock:
            self.max_frame = min(self.max_frame, max_frame)
            self.max_queued_bytes = min(self.max_queued_bytes, 4 * max_frame)


class GuardedConnection:
    """wsproto's connection as simple-websocket's reader thread uses it, with every message
    counted against FrameBounds before it is queued; over a bound, the reader sends the error frame
    and the close itself and stops reading."""

    def __init__(self, inner: WSConnection, bounds: FrameBounds, send_lock: threading.Lock,
                 write: Callable[[bytes], Any], on_refused: Callable[[], None],
                 refusal: Callable[[FrameRefused], Refusal] = native_refusal):
        self.inner, self.bounds, self.send_lock = inner, bounds, send_lock
        self.write, self.on_refused, self.refusal = write, on_refused, refusal
        self.refused_at: float | None = None  # when a frame was refused (the close is sent then)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def events(self) -> Iterator[Event]:
        for event in self.inner.events():
            if self.refused_at is not None:
                # refused: what still arrives is read and dropped until the caller's close (or a
                # short while), so it reads our error frame and close, not a reset connection
                if isinstance(event, CloseConnection) or time.monotonic() > self.refused_at + LINGER_SECONDS:
                    raise LocalProtocolError("closed after a refusal")  # ends the reader thread
                continue
            if isinstance(event, TextMessage | BytesMessage):
                refused = self.bounds.admit(len(event.data), event.message_finished)
                if refused is not None:
                    self._refuse(refused)
                    self.refused_at = time.monotonic()
                    continue
            yield event

    def _refuse(self, refused: FrameRefused) -> None:
        frame, code, reason = self.refusal(refused)
        with self.send_lock:
            self.on_refused()
            try:
                self.write(self.inner.send(TextMessage(data=json.dumps(frame))))
                self.write(self.inner.send(CloseConnection(code, reason)))
            except (OSError, LocalProtocolError):
                pass


LINGER_SECONDS = 2.0  # after a refusal, how long the caller's remaining frames are read and dropped


def linger_after_refusal(ws: Server) -> None:
    """Before the socket closes: wait (bounded) for the reader to drain a refused caller's frames."""
    guard = ws.ws
    if isinstance(guard, GuardedConnection) and guard.refused_at is not None and ws.thread is not None:
        ws.thread.join(timeout=LINGER_SECONDS)


class GuardedReader(threading.Thread):
    """simple-websocket's reader thread (SOCK_SERVER_OPTIONS thread_class): made once the handshake
    is done and before the first message is read, it puts the bounds between the two."""

    def __init__(self, target: Callable[[], None]):
        super().__init__(target=target, daemon=True)
        server: Server = target.__self__  # type: ignore[attr-defined]
        config = current_app.config
        bounds = FrameBounds(max(config["MAX_CONTENT_LENGTH"], config["LIVE_MAX_FRAME_BYTES"]),
                             2 * config["MAX_CONTENT_LENGTH"])
        send_lock = threading.Lock()
        ended = threading.Event()
        refusal = REFUSALS.get(request.blueprint or "", native_refusal)
        server.ws = GuardedConnection(server.ws, bounds, send_lock, server.sock.send, ended.set, refusal)
        server.codestudio = (bounds, send_lock, ended)


class Caller:
    """The caller's end: frames from either relay thread, one at a time; ended once."""

    def __init__(self, ws: Server):
        self.ws = ws
        self.bounds, self.lock, self.ended = ws.codestudio

    def receive(self, timeout: float) -> str | bytes | None:
        """The next frame, None after `timeout` seconds; ConnectionClosed once the caller is gone."""
        message = self.ws.receive(timeout=timeout)
        if message is not None:
            self.bounds.taken(len(message))
        return message

    def send(self, frame: dict[str, Any]) -> bool:
        """False if the conversation has ended (or the caller is gone)."""
        with self.lock:
            if self.ended.is_set():
                return False
            try:
                self.ws.send(json.dumps(frame, separators=(",", ":"), default=str))
                return True
            except (ConnectionClosed, OSError):
                self.ended.set()
                return False

    def end(self, last: dict[str, Any] | None, code: int, reason: str = "") -> bool:
        """Send the last frame and close with `code`; False if already ended."""
        with self.lock:
            if self.ended.is_set():
                return False
            self.ended.set()
            try:
                if last is not None:
                    self.ws.send(json.dumps(last, separators=(",", ":"), default=str))
                self.ws.close(code, reason[:120])
            except (ConnectionClosed, OSError):
                pass
            return True
