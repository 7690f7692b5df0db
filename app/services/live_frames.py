"""A live run's caller frames (GET /codestudio/live): JSON text, each an object with a `type`.
A frame that cannot be taken is a `FrameRefused`: the error frame's code and detail, and the
close code the connection ends with."""
from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from sandbox.live import SIGNALS, ClientEvent, EndOfInput, Input, Resize, SendSignal

from .. import jsonbody

# close codes (RFC 6455 section 7.4, and 4000 + the HTTP status of the same refusal on the REST API)
NORMAL = 1000
UNSUPPORTED_DATA = 1003
POLICY = 1008
TOO_BIG = 1009
SERVER_ERROR = 1011
TRY_AGAIN_LATER = 1013

CLIENT_TYPES = ("auth", "start", "stdin", "eof", "signal", "resize")
MAX_TERMINAL_SIDE = 1000


class FrameRefused(Exception):
    def __init__(self, code: str, detail: str, close: int = POLICY, **extra: Any):
        super().__init__(detail)
        self.code, self.detail, self.close, self.extra = code, detail, close, extra

    def frame(self) -> dict[str, Any]:
        return error_frame(self.code, self.detail, **self.extra)


def error_frame(code: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"type": "error", "code": code, "detail": detail, **extra}


def close_code_for_status(status: int) -> int:
    """A refusal the REST API answers with `status` (4xx, 503) closes the socket with 4000 + status;
    our own failure (500) with 1011."""
    return 4000 + status if 400 <= status < 600 and status != 500 else SERVER_ERROR


def parse(message: str | bytes) -> dict[str, Any]:
    """The frame's object; refuses binary frames, invalid JSON and unknown types."""
    if isinstance(message, bytes):
        raise FrameRefused("binary_frame", "frames are JSON text, not binary", UNSUPPORTED_DATA)
    try:
        frame = jsonbody.loads(message)
    except json.JSONDecodeError:
        raise FrameRefused("invalid_json", "a frame is one JSON object", UNSUPPORTED_DATA) from None
    if not isinstance(frame, dict):
        raise FrameRefused("invalid_json", "a frame is one JSON object", UNSUPPORTED_DATA)
    kind = frame.get("type")
    if kind not in CLIENT_TYPES:
        raise FrameRefused("unknown_type", f"unknown frame type {kind!r}; known: {', '.join(CLIENT_TYPES)}",
                           UNSUPPORTED_DATA)
    return frame


def client_event(frame: dict[str, Any], tty: bool) -> ClientEvent | None:
    """What a frame sent during the run asks of the program; None: nothing (empty input, a
    resize in pipe mode)."""
    kind = frame["type"]
    if kind == "stdin":
        data = stdin_bytes(frame)
        return Input(data) if data else None
    if kind == "eof":
        return EndOfInput()
    if kind == "signal":
        return SendSignal(signal_name(frame.get("signal")))
    if kind == "resize":
        cols, rows = terminal_size(frame)
        return Resize(cols, rows) if tty else None
    if kind == "start":
        raise FrameRefused("already_started", "the run is started already: one start per connection")
    raise FrameRefused("already_authenticated", "the connection is authenticated already")


def stdin_bytes(frame: dict[str, Any]) -> bytes:
    text, encoded = frame.get("data"), frame.get("data_b64")
    if (text is None) == (encoded is None):
        raise FrameRefused("invalid_stdin", "a stdin frame has either `data` (text) or `data_b64` (base64)")
    if text is not None:
        if not isinstance(text, str):
            raise FrameRefused("invalid_stdin", "`data` is a string")
        return text.encode("utf-8", "surrogatepass")
    if not isinstance(encoded, str):
        raise FrameRefused("invalid_stdin", "`data_b64` is a base64 string")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise FrameRefused("invalid_stdin", "`data_b64` is not valid base64") from None


def signal_name(value: Any) -> str:
    """INT, SIGINT, int or sigint: the name without SIG, if a caller may send it."""
    name = value.upper() if isinstance(value, str) else ""
    name = name[3:] if name.startswith("SIG") else name
    if name not in SIGNALS:
        raise FrameRefused("invalid_signal", f"unknown signal {value!r}; known: {', '.join(SIGNALS)}")
    return name


def terminal_size(frame: dict[str, Any]) -> tuple[int, int]:
    cols, rows = frame.get("cols"), frame.get("rows")
    for value in (cols, rows):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TERMINAL_SIDE:
            raise FrameRefused("invalid_resize", f"cols and rows are integers from 1 to {MAX_TERMINAL_SIDE}")
    assert isinstance(cols, int) and isinstance(rows, int)
    return cols, rows


class InputRate:
    """A token bucket over the stdin bytes one connection relays: a second's worth may come at
    once, more waits (the socket's reader holds only a bounded queue meanwhile)."""

    def __init__(self, bytes_per_second: int, now: float):
        self.rate = float(bytes_per_second)
        self.tokens, self.at = self.rate, now

    def wait_for(self, size: int, now: float) -> float:
        """Seconds to wait before `size` bytes may go; takes them (the bucket may go negative)."""
        self.tokens = min(self.rate, self.tokens + (now - self.at) * self.rate)
        self.at = now
        self.tokens -= size
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate
