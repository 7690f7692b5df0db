"""Live runs over the WebSocket GET /codestudio/live: the program's output as typed events while it
runs, its stdin, signals and terminal size from the caller. One connection, one run."""
from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from ._core import Core
from .calls import Files, file_list, run_body
from .errors import ApiError, CodeStudioError, TransportError, api_error
from .models import Execution

MAX_FRAME_BYTES = 16 << 20
OUTPUT_TYPES = frozenset({"stdout", "stderr", "output", "compile"})


@dataclass(frozen=True)
class Output:
    """Output of the program: `stream` is stdout or stderr (pipe mode), output (terminal mode) or
    compile (the compiler's)."""
    stream: str
    data: str
    seq: int | None


@dataclass(frozen=True)
class Stage:
    """A stage (compile, run) starts or ends; at its end its status and exit code."""
    stage: str
    state: str
    status: str | None
    exit_code: int | None
    seq: int | None


@dataclass(frozen=True)
class Exit:
    """The run is over: the final execution, as get_execution answers it. The last event."""
    execution: Execution


@dataclass(frozen=True)
class Failed:
    """The run ended without a result (the worker was lost, the caller was too slow): the last event."""
    error: ApiError


LiveEvent = Output | Stage | Exit | Failed


def _problem(frame: Mapping[str, Any]) -> ApiError:
    return api_error(int(frame.get("status") or 0), str(frame.get("code") or "error"), frame)


def event_of(frame: Mapping[str, Any]) -> LiveEvent | None:
    """The event a server frame stands for; None for frames that say nothing new (accepted)."""
    kind = frame.get("type")
    seq = frame.get("seq")
    if kind in OUTPUT_TYPES:
        return Output(str(kind), str(frame.get("data") or ""), seq)
    if kind == "stage":
        code = frame.get("returncode")
        return Stage(str(frame.get("stage")), str(frame.get("state")), frame.get("status"),
                     None if code is None else int(code), seq)
    if kind == "exit":
        return Exit(Execution.from_json(frame["result"]))
    if kind == "error":
        return Failed(_problem(frame))
    return None


def websocket_url(http_url: str) -> str:
    scheme, rest = http_url.split("://", 1)
    return ("wss" if scheme == "https" else "ws") + "://" + rest + "/codestudio/live"


class LiveRun:
    """`async with client.live(...) as run:` connects and starts the run (a refusal raises its ApiError:
    UnknownLanguage, ConcurrencyLimited, ...); `async for event in run:` yields its events until Exit
    or Failed. `execution_id` names the run from the start."""

    def __init__(self, core: Core, language: str, code: str, *, stdin: str | None = None,
                 files: Files | None = None, args: Sequence[str] | None = None,
                 limits: Mapping[str, Any] | None = None, tty: bool = False, cols: int | None = None,
                 rows: int | None = None):
        self.core = core
        self.start = run_body({"type": "start", "language": language, "code": code, "stdin": stdin,
                               "files": file_list(files) or None, "args": list(args) if args else None,
                               "limits": dict(limits) if limits else None, "tty": tty, "cols": cols, "rows": rows})
        self.execution_id: str | None = None
        self.result: Execution | None = None
        self._socket: ClientConnection | None = None
        self._over = False

    async def __aenter__(self) -> LiveRun:
        headers = {k: v for k, v in self.core.headers(None).items() if k == "Authorization"}
        url = websocket_url(self.core.url)
        try:
            self._socket = await connect(url, additional_headers=headers, max_size=MAX_FRAME_BYTES,
                                         compression=None)
        except InvalidStatus as refused:
            raise _refusal(refused) from None
        except (OSError, WebSocketException) as exc:
            raise TransportError(f"cannot reach {url}: {exc!r}") from None
        try:
            await self._send(self.start)
            frame = await self._receive()
            while frame.get("type") != "accepted":
                if frame.get("type") == "error":
                    raise _problem(frame)
                frame = await self._receive()
        except BaseException:
            await self._socket.close()
            raise
        self.execution_id = str(frame["execution_id"])
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        """Leave the run: the server stops it within a second if it is still running."""
        if self._socket is not None:
            await self._socket.close()

    def __aiter__(self) -> AsyncIterator[LiveEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[LiveEvent]:
        while not self._over:
            event = event_of(await self._receive())
            if isinstance(event, Exit | Failed):
                self._over = True
                self.result = event.execution if isinstance(event, Exit) else None
            if event is not None:
                yield event

    async def send_stdin(self, data: str | bytes) -> None:
        """Input for the program (text, or bytes as they are)."""
        if isinstance(data, bytes):
            await self._send({"type": "stdin", "data_b64": base64.b64encode(data).decode()})
        else:
            await self._send({"type": "stdin", "data": data})

    async def close_stdin(self) -> None:
        """End the program's input (EOF)."""
        await self._send({"type": "eof"})

    async def signal(self, name: str) -> None:
        """Send a signal: INT, TERM, KILL, HUP, QUIT, USR1, USR2, CONT, STOP or WINCH."""
        await self._send({"type": "signal", "signal": name})

    async def kill(self) -> None:
        await self.signal("KILL")

    async def resize(self, cols: int, rows: int) -> None:
        """The terminal's new size (terminal mode)."""
        await self._send({"type": "resize", "cols": cols, "rows": rows})

    async def _send(self, frame: Mapping[str, Any]) -> None:
        socket = self._connected()
        try:
            await socket.send(json.dumps(frame))
        except ConnectionClosed as closed:
            raise _closed(closed) from None

    async def _receive(self) -> dict[str, Any]:
        socket = self._connected()
        try:
            message = await socket.recv()
        except ConnectionClosed as closed:
            raise _closed(closed) from None
        frame = json.loads(message)
        if not isinstance(frame, dict):
            raise CodeStudioError(f"unexpected frame from the server: {message!r:.200}")
        return frame

    def _connected(self) -> ClientConnection:
        if self._socket is None:
            raise CodeStudioError("the live run is not started: use `async with client.live(...) as run`")
        return self._socket


class BlockingLiveRun:
    """A LiveRun for blocking code (Client.live): `with client.live(...) as run:` then `for event in
    run:`; each step runs the LiveRun on an event loop of its own."""

    def __init__(self, run: LiveRun):
        self.run = run
        self._loop = asyncio.new_event_loop()

    @property
    def execution_id(self) -> str | None:
        return self.run.execution_id

    @property
    def result(self) -> Execution | None:
        return self.run.result

    def __enter__(self) -> BlockingLiveRun:
        try:
            self._loop.run_until_complete(self.run.__aenter__())
        except BaseException:
            self._loop.close()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        try:
            self._loop.run_until_complete(self.run.close())
        finally:
            self._loop.close()

    def __iter__(self) -> Iterator[LiveEvent]:
        events = aiter(self.run)
        while True:
            try:
                yield self._loop.run_until_complete(anext(events))
            except StopAsyncIteration:
                return

    def send_stdin(self, data: str | bytes) -> None:
        self._loop.run_until_complete(self.run.send_stdin(data))

    def close_stdin(self) -> None:
        self._loop.run_until_complete(self.run.close_stdin())

    def signal(self, name: str) -> None:
        self._loop.run_until_complete(self.run.signal(name))

    def kill(self) -> None:
        self.signal("KILL")

    def resize(self, cols: int, rows: int) -> None:
        self._loop.run_until_complete(self.run.resize(cols, rows))


def _closed(closed: ConnectionClosed) -> TransportError:
    code = closed.rcvd.code if closed.rcvd else None
    reason = closed.rcvd.reason if closed.rcvd else ""
    return TransportError(f"the live connection closed ({code} {reason})".rstrip())


def _refusal(refused: InvalidStatus) -> ApiError:
    """The HTTP refusal of the upgrade (a bad key: 401) as the ApiError it carries."""
    response = refused.response
    try:
        problem = json.loads(response.body or b"")
    except ValueError:
        problem = None
    if not isinstance(problem, dict):
        problem = {"detail": (response.body or b"").decode(errors="replace")[:200]}
    return api_error(response.status_code, response.reason_phrase, problem, response.headers.get("Retry-After"))
