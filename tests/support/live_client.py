"""A WebSocket client of GET /codestudio/live (websocket-client), and an event-stream reader of
POST /codestudio/run, for the live-run tests: frames as dicts, the close code the server sent."""
from __future__ import annotations

import json
import struct
import time
from collections.abc import Iterator
from typing import Any

import requests
import websocket

OUTPUT_TYPES = ("stdout", "stderr", "output")


class Closed(Exception):
    def __init__(self, code: int | None, reason: str):
        super().__init__(f"closed {code} {reason}")
        self.code, self.reason = code, reason


class LiveClient:
    """One connection; `frames` keeps every frame received, `close_code` the server's close."""

    def __init__(self, front, key: str | None = None, query: str = "", headers: dict | None = None,
                 timeout: float = 30, path: str = "/codestudio/live"):
        url = f"ws://{front.settings.host}:{front.settings.port}{path}{query}"
        sent = dict(headers or {})
        if key is not None:
            sent["Authorization"] = f"Bearer {key}"
        self.ws = websocket.create_connection(url, header=[f"{k}: {v}" for k, v in sent.items()], timeout=timeout)
        self.frames: list[dict[str, Any]] = []
        self.close_code: int | None = None
        self.close_reason = ""

    def send(self, **frame: Any) -> None:
        self.ws.send(json.dumps(frame))

    def send_raw(self, data: str | bytes) -> None:
        if isinstance(data, bytes):
            self.ws.send_binary(data)
        else:
            self.ws.send(data)

    def start(self, language: str, code: str, **fields: Any) -> str:
        """Sends start; returns the execution id from `accepted`."""
        self.send(type="start", language=language, code=code, **fields)
        accepted = self.next(timeout=30)
        assert accepted["type"] == "accepted", accepted
        return accepted["execution_id"]

    def next(self, timeout: float = 30) -> dict[str, Any]:
        """The next frame; Closed once the server closed."""
        if self.close_code is not None:
            raise Closed(self.close_code, self.close_reason)
        self.ws.settimeout(timeout)
        while True:
            try:
                message = self.ws.recv_frame()  # frame by frame: a close is read even if answering it fails
            except (websocket.WebSocketConnectionClosedException, ConnectionError):
                self.close_code = self.close_code or 1006
                raise Closed(self.close_code, "connection lost") from None
            if message.opcode == websocket.ABNF.OPCODE_CLOSE:
                data = message.data
                self.close_code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005
                self.close_reason = data[2:].decode(errors="replace")
                try:
                    self.ws.send_close()
                except (OSError, websocket.WebSocketException):
                    pass
                raise Closed(self.close_code, self.close_reason)
            if message.opcode == websocket.ABNF.OPCODE_PING:
                self.ws.pong(message.data)
                continue
            if message.opcode == websocket.ABNF.OPCODE_TEXT and message.fin:
                frame = json.loads(message.data)
                self.frames.append(frame)
                return frame
            raise AssertionError(f"unexpected frame from the server: opcode {message.opcode}, fin {message.fin}")

    def until(self, predicate, timeout: float = 30) -> dict[str, Any]:
        """Frames until one satisfies `predicate` (a frame type or a function); returns it."""
        test = predicate if callable(predicate) else (lambda frame: frame["type"] == predicate)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no such frame within {timeout} s; got {self.frames[-10:]}")
            frame = self.next(timeout=left)
            if test(frame):
                return frame

    def until_output(self, text: str, timeout: float = 30, since: int = 0) -> str:
        """Frames until the output after its first `since` characters contains `text`; returns
        the output so far."""
        if text not in self.output()[since:]:
            self.until(lambda frame: text in self.output()[since:], timeout)
        return self.output()

    def finish(self, timeout: float = 60) -> tuple[dict[str, Any], int | None]:
        """Frames until the last (exit or error) and the close; returns (last frame, close code)."""
        last = self.until(lambda frame: frame["type"] in ("exit", "error"), timeout)
        try:
            self.next(timeout=10)
        except Closed:
            pass
        return last, self.close_code

    def refusal(self, timeout: float = 15) -> tuple[dict[str, Any], int | None]:
        """The error frame and close code of a refused conversation."""
        return self.finish(timeout)

    def output(self, types: tuple[str, ...] = OUTPUT_TYPES) -> str:
        return "".join(frame["data"] for frame in self.frames if frame["type"] in types)

    def close(self) -> None:
        self.ws.close()



SLEEPER = "import time\nprint('ready', flush=True)\ntime.sleep(30)\n"


def execution(front, user, execution_id: str) -> dict:
    """GET /codestudio/executions/<id> through the front, as the user (asserting a 200)."""
    response = requests.get(f"{front.url}/codestudio/executions/{execution_id}", headers=user["headers"], timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def started(front, user, tty: bool = False) -> tuple[LiveClient, str]:
    """A live run of SLEEPER that has printed `ready`: (its client, its execution id)."""
    client = LiveClient(front, key=user["key"])
    execution_id = client.start("python", SLEEPER, tty=tty)
    client.until_output("ready")
    return client, execution_id


def read_event_stream(response) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event name, data) of a text/event-stream response as each arrives, comments left out."""
    name, data = None, []
    for line in response.iter_lines(chunk_size=1, decode_unicode=True):
        if line == "":
            if name is not None:
                yield name, json.loads("\n".join(data))
            name, data = None, []
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            name = line[len("event:"):].strip()
        elif line.startswith("data:"):
            data.append(line[len("data:"):].strip())
