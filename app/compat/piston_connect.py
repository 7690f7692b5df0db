"""Piston's interactive WebSocket, `GET /api/v2/connect`, exactly as Piston speaks it, on a live run.

Client: `init` (the fields of /execute; its stdin is ignored) within 1 s, then `data` {stream:
"stdin", data} and `signal` {signal: "SIGINT", ...}; other types are ignored, as Piston does.
Server: `runtime` {language, version}, `stage` {stage} as a stage starts, `data` {stream: stdout |
stderr, data}, `exit` {stage, code, signal, error} as it ends, `error` {message}. Close codes:
4000 Already Initialized, 4001 Initialization Timeout, 4002 Notified Error (after an `error`),
4003 Not yet Initialized, 4004 Can only write to stdin, 4005 Invalid signal, 4999 Job Completed.

Auth as our Piston API takes it (Authorization: <key>, Bearer, X-API-Key on the upgrade; a bad one
is a 401 before it). Unlike Piston, output keeps the run's output cap, and a signal is delivered
only if a live run may send it (INT, TERM, KILL, HUP, QUIT, USR1, USR2, CONT, STOP, WINCH)."""
from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import replace
from typing import Any

from flask import Blueprint, current_app, g, request
from simple_websocket import ConnectionClosed, Server

from sandbox.live import SIGNALS, Input, SendSignal
from tasks.live_channel import HEARTBEAT_SECONDS
from tasks.ports import LiveOptions

from ..api.live import as_problem, sock
from ..api.live_socket import REFUSALS, Caller, Refusal, linger_after_refusal
from ..auth import current_user
from ..extensions import db
from ..services import live
from ..services.live_frames import FrameRefused
from . import foreign_errors
from .piston_job import PistonError, parse, piston_name, version_of

log = logging.getLogger(__name__)

bp = Blueprint("piston_connect", __name__, url_prefix="/api/v2")
foreign_errors(bp, "message")

INIT_SECONDS = 1.0  # Piston's
RECEIVE_SECONDS = 0.25
ALREADY_INITIALIZED, INIT_TIMEOUT, NOTIFIED_ERROR = 4000, 4001, 4002
NOT_INITIALIZED, ONLY_STDIN, INVALID_SIGNAL, JOB_COMPLETED = 4003, 4004, 4005, 4999


class Closing(Exception):
    """Piston closes with a code and a reason, after an `error` frame for 4002."""

    def __init__(self, code: int, reason: str, message: str | None = None):
        super().__init__(reason)
        self.code, self.reason, self.message = code, reason, message


def notified(message: str) -> Closing:
    return Closing(NOTIFIED_ERROR, "Notified Error", message)


def piston_refusal(refused: FrameRefused) -> Refusal:
    """A frame over the size or rate bounds (app/api/live_socket.py), as Piston words an error."""
    return {"type": "error", "message": refused.detail}, NOTIFIED_ERROR, "Notified Error"


REFUSALS["piston_connect"] = piston_refusal


@bp.before_request
def _before_upgrade() -> None:
    request.environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)  # see app/api/live.py
    current_user()  # as /api/v2/execute: a missing or bad key is a 401 before the upgrade


@sock.route("/connect", bp=bp)
def connect(ws: Server) -> None:
    PistonConversation(Caller(ws)).serve()
    linger_after_refusal(ws)


def piston_frames(event: dict[str, Any]) -> list[dict[str, Any]]:
    """Our run event as Piston's frames."""
    kind = event["type"]
    if kind in ("stdout", "stderr"):
        return [{"type": "data", "stream": kind, "data": event["data"]}]
    if kind == "compile":  # the compiler's output: its diagnostics, on stderr
        return [{"type": "data", "stream": "stderr", "data": event["data"]}]
    if kind == "stage" and event["state"] == "start":
        return [{"type": "stage", "stage": event["stage"]}]
    if kind == "stage":
        ended_by_us = event.get("status") not in ("success", "error", "compile_error")
        signal = event.get("signal")  # killed by a signal: no exit code, as Piston reports it
        return [{"type": "exit", "stage": event["stage"], "code": None if signal else event.get("returncode"),
                 "signal": signal, "error": event.get("status") if ended_by_us else None}]
    return []


class PistonConversation:
    def __init__(self, caller: Caller):
        self.caller = caller
        self.app = current_app._get_current_object()  # type: ignore[attr-defined]
        self.channel: live.RunChannel | None = None
        self.run_over, self.stopping = threading.Event(), threading.Event()
        self.relay: threading.Thread | None = None

    def serve(self) -> None:
        slots = live.process_slots()
        if not slots.acquire(blocking=False):
            self._close(notified("this API process holds as many live runs as it may; retry shortly"))
            return
        try:
            self._converse()
        except ConnectionClosed:
            pass
        except Closing as closing:
            self._close(closing)
        except PistonError as exc:
            self._close(notified(exc.message))
        except Exception as exc:  # noqa: BLE001 - Piston's answer to anything: an error frame, then 4002
            self._close(notified(as_problem(exc).detail))
        finally:
            self.stopping.set()
            if self.channel is not None and not self.run_over.is_set():
                self.channel.leave("the caller disconnected")
            if self.relay is not None:
                self.relay.join(timeout=HEARTBEAT_SECONDS + 2)
            db.session.remove()
            slots.release()

    def _close(self, closing: Closing) -> None:
        last = {"type": "error", "message": closing.message} if closing.message is not None else None
        self.caller.end(last, closing.code, closing.reason)

    def _receive(self, timeout: float) -> dict[str, Any] | None:
        message = self.caller.receive(timeout=timeout)
        if message is None:
            return None
        try:
            frame = json.loads(message)
        except (ValueError, TypeError) as exc:  # Piston: JSON.parse throws
            raise notified(f"invalid JSON: {exc}") from None
        if not isinstance(frame, dict):
            raise notified("a message is a JSON object")
        return frame

    def _converse(self) -> None:
        user = g.user
        db.session.close()
        deadline = time.monotonic() + INIT_SECONDS
        frame = None
        while frame is None or frame.get("type") not in ("init", "data", "signal"):  # others: ignored
            left = deadline - time.monotonic()
            frame = self._receive(left) if left > 0 else None
            if frame is None and time.monotonic() >= deadline:
                raise Closing(INIT_TIMEOUT, "Initialization Timeout")
        if frame["type"] != "init":
            raise Closing(NOT_INITIALIZED, "Not yet Initialized")
        run_request, lang, version = parse(frame, user)
        run_request = replace(run_request, stdin="", wait=False, live=LiveOptions())  # init's stdin: ignored
        _, self.channel = live.submit(user, run_request)
        db.session.close()
        self.caller.bounds.lower(self.app.config["LIVE_MAX_FRAME_BYTES"])
        self.caller.send({"type": "runtime", "language": piston_name(lang), "version": str(version_of(version))})
        self.relay = threading.Thread(target=self._relay_out, name="piston-connect-out", daemon=True)
        self.relay.start()
        self._relay_in()

    def _relay_in(self) -> None:
        assert self.channel is not None
        last_beat = time.monotonic()
        while not self.run_over.is_set() and not self.caller.ended.is_set():
            frame = self._receive(RECEIVE_SECONDS)
            if time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
                self.channel.beat()
                last_beat = time.monotonic()
            if frame is None:
                continue
            kind = frame.get("type")
            if kind == "init":
                raise Closing(ALREADY_INITIALIZED, "Already Initialized")
            if kind == "data":
                if frame.get("stream") != "stdin":
                    raise Closing(ONLY_STDIN, "Can only write to stdin")
                data = frame.get("data")
                if not isinstance(data, str):
                    raise notified("data must be a string")
                if data:
                    self.channel.send(Input(data.encode()))
            elif kind == "signal":
                name = frame.get("signal")
                if not isinstance(name, str) or not name.startswith("SIG") or name[3:] not in SIGNALS:
                    raise Closing(INVALID_SIGNAL, "Invalid signal")
                self.channel.send(SendSignal(name[3:]))

    def _relay_out(self) -> None:
        assert self.channel is not None
        with self.app.app_context():
            try:
                for event in live.OutRelay(self.channel).frames(self.stopping):
                    if event is None:
                        continue
                    if event["type"] == "exit":
                        self.run_over.set()
                        self.caller.end(None, JOB_COMPLETED, "Job Completed")
                        return
                    if event["type"] == "error":
                        self._close(notified(event["detail"]))
                        return
                    for frame in piston_frames(event):
                        if not self.caller.send(frame):
                            return
            except Exception as exc:  # noqa: BLE001 - the caller is told; the log has the rest
                self._close(notified(as_problem(exc).detail))
