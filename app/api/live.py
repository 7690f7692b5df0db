"""GET /codestudio/live: a live run over a WebSocket (flask-sock). The protocol is documented in
app/api/live_doc.py (the OpenAPI document's description).

One connection, one run: authenticate (header on the upgrade, or a first `auth` frame), `start`,
then the caller's frames go to the run's `in` stream from this thread while a second thread
relays the `out` stream to the caller (app/services/live.py)."""
from __future__ import annotations

import logging
import threading
import time
from typing import Any

import redis as redis_lib
from flask import Blueprint, Flask, current_app, g, request
from flask_sock import Sock
from kombu.exceptions import OperationalError as BrokerError
from marshmallow import ValidationError
from simple_websocket import ConnectionClosed, Server
from sqlalchemy.exc import DataError, DBAPIError
from werkzeug.routing.exceptions import WebsocketMismatch

from sandbox.live import Input
from tasks.live_channel import HEARTBEAT_SECONDS

from ..auth import current_user, presented_key
from ..errors import Problem, problem_response
from ..extensions import db
from ..models import User
from ..ratelimit import count_request
from ..schemas.live import LiveStart, LiveStartSchema
from ..services import idempotency, live
from ..services.apikeys import user_for_key
from ..services.live_frames import (
    POLICY,
    SERVER_ERROR,
    TRY_AGAIN_LATER,
    FrameRefused,
    InputRate,
    client_event,
    close_code_for_status,
    error_frame,
    parse,
)
from .live_socket import Caller, GuardedReader, linger_after_refusal

log = logging.getLogger(__name__)

bp = Blueprint("live", __name__, url_prefix="/codestudio")
sock = Sock()

AUTH_SECONDS = 5.0  # for the first frame's key, when the upgrade carried none
START_SECONDS = 30.0  # for the start frame, once authenticated
RECEIVE_SECONDS = 0.25  # the input thread looks up this often (heartbeat, the run ended)
UNAUTHORIZED = close_code_for_status(401)
# query parameters that would put a key in the URL (logs, history, referrers): refused, never read
KEY_PARAMS = frozenset({"key", "api_key", "apikey", "api-key", "token", "access_token", "x-api-key",
                        "x-auth-token", "auth", "authorization"})


def init_live(app: Flask) -> None:
    # simple-websocket's reader thread, with the frame bounds (app/api/live_socket.py)
    app.config.setdefault("SOCK_SERVER_OPTIONS", {"thread_class": GuardedReader, "ping_interval": 20})
    sock.init_app(app)


def key_in_url() -> bool:
    return any(name.lower() in KEY_PARAMS for name in request.args)


@bp.before_request
def _before_upgrade() -> None:
    # no permessage-deflate: a small compressed frame could inflate far past the frame cap before
    # it is counted (simple-websocket offers it to any client that asks)
    request.environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
    if presented_key() and not key_in_url():
        current_user()  # a bad key is refused before the upgrade: a 401 problem, as everywhere
    idempotency.header_key()  # so is a malformed Idempotency-Key: a 422 problem


@bp.app_errorhandler(WebsocketMismatch)
def _websocket_mismatch(exc: WebsocketMismatch) -> Any:
    return problem_response(400, "websocket_mismatch", "GET /codestudio/live and /api/v2/connect are WebSockets "
                            "(send Upgrade: websocket); every other URL is plain HTTP")


@sock.route("/live", bp=bp)
def live_run(ws: Server) -> None:
    Conversation(Caller(ws)).serve()
    linger_after_refusal(ws)


def problem_frame(problem: Problem) -> dict[str, Any]:
    """The REST API's problem as an error frame: the same code, detail and members."""
    return error_frame(problem.code, problem.detail, status=problem.status, **problem.extra)


class Conversation:
    def __init__(self, caller: Caller):
        self.caller = caller
        self.app = current_app._get_current_object()  # type: ignore[attr-defined]
        self.channel: live.RunChannel | None = None
        self.tty = False
        self.run_over = threading.Event()  # the relay sent the last frame
        self.stopping = threading.Event()
        self.relay: threading.Thread | None = None
        self.leave_reason = "the caller disconnected"

    def serve(self) -> None:
        slots = live.process_slots()
        if not slots.acquire(blocking=False):
            self.caller.end(error_frame("server_busy", "this API process holds as many live runs as it may; "
                                        "retry shortly"), TRY_AGAIN_LATER, "server_busy")
            return
        try:
            self._converse()
        except ConnectionClosed:
            pass
        except FrameRefused as refused:
            self.leave_reason = f"the caller's frame was refused ({refused.code})"
            self.caller.end(refused.frame(), refused.close, refused.code)
        except Exception as exc:  # noqa: BLE001 - every failure is an error frame, never a traceback
            problem = as_problem(exc)
            self.leave_reason = f"the API could not go on ({problem.code})"
            self.caller.end(problem_frame(problem), close_code_for_status(problem.status), problem.code)
        finally:
            self._part()
            slots.release()

    def _converse(self) -> None:
        if key_in_url():
            raise FrameRefused("key_in_url", "an API key in the URL is refused (it ends up in logs): send "
                               "the Authorization or X-API-Key header, or a first frame {type: auth, key}")
        user = g.get("user") or self._authenticate_by_frame()
        db.session.close()  # no connection held while the caller composes its start frame
        start = self._await_start()
        run_request = start.request
        execution, self.channel = live.submit(user, run_request, self._claim(user, start))
        db.session.close()  # held for minutes otherwise
        assert run_request.live is not None
        self.tty = run_request.live.tty
        self.caller.bounds.lower(self.app.config["LIVE_MAX_FRAME_BYTES"])
        self.caller.send({"type": "accepted", "execution_id": execution.id})
        self.relay = threading.Thread(target=self._relay_out, name=f"live-out-{execution.id}", daemon=True)
        self.relay.start()
        self._relay_in()

    def _next_frame(self, deadline: float, timeout_code: str, detail: str, close: int) -> dict[str, Any]:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise FrameRefused(timeout_code, detail, close)
            message = self.caller.receive(timeout=left)
            if message is not None:
                return parse(message)

    def _authenticate_by_frame(self) -> User:
        frame = self._next_frame(time.monotonic() + AUTH_SECONDS, "auth_timeout",
                                 f"no key: send the header on the upgrade or {{type: auth, key}} within "
                                 f"{AUTH_SECONDS:.0f} s", UNAUTHORIZED)
        if frame["type"] != "auth":
            raise FrameRefused("unauthorized", "an API key is required first: the Authorization or X-API-Key "
                               "header on the upgrade, or a first frame {type: auth, key}", UNAUTHORIZED)
        key = frame.get("key")
        user = user_for_key(key) if isinstance(key, str) and 0 < len(key) <= 256 else None
        if user is None:
            raise FrameRefused("invalid_api_key", "the API key is not valid or has been revoked", UNAUTHORIZED)
        g.user = user
        count_request(user)  # the upgrade counted against the address only: the key pays for it too
        return user

    def _claim(self, user: User, start: LiveStart) -> idempotency.Claim | None:
        """The start's claim on its Idempotency-Key (the upgrade's header or the frame's field)."""
        header, field = idempotency.header_key(), idempotency.parse_key(start.idempotency_key)
        if header is not None and field is not None and header != field:
            raise Problem(422, "invalid_idempotency_key", "the Idempotency-Key header and the start frame's "
                          "idempotency_key differ; send one")
        return idempotency.claim(user.id, header or field, idempotency.Scope.LIVE, start.request)

    def _await_start(self) -> LiveStart:
        frame = self._next_frame(time.monotonic() + START_SECONDS, "start_timeout",
                                 f"no start frame within {START_SECONDS:.0f} s", POLICY)
        if frame["type"] == "auth":
            raise FrameRefused("already_authenticated", "the connection is authenticated already")
        if frame["type"] != "start":
            raise FrameRefused("not_started", f"a {frame['type']} frame before start: send start first")
        fields = {name: value for name, value in frame.items() if name != "type"}
        try:
            return LiveStartSchema().load(fields)
        except ValidationError as exc:
            raise FrameRefused("validation_error", "the start frame failed validation; see errors",
                               close_code_for_status(422), errors=exc.messages) from None

    def _relay_in(self) -> None:
        """The caller's frames to the run, and its heartbeat, until either side ends."""
        assert self.channel is not None
        now = time.monotonic()
        rate = InputRate(self.app.config["LIVE_STDIN_BYTES_PER_SECOND"], now)
        last_beat = now
        while not self.run_over.is_set() and not self.caller.ended.is_set():
            message = self.caller.receive(timeout=RECEIVE_SECONDS)
            if time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
                self.channel.beat()
                last_beat = time.monotonic()
            if message is None:
                continue
            event = client_event(parse(message), self.tty)
            if event is None:
                continue
            if isinstance(event, Input):
                last_beat = self._throttle(rate.wait_for(len(event.data), time.monotonic()), last_beat)
            if not self.caller.ended.is_set():  # refused meanwhile (a flood): nothing more goes to the run
                self.channel.send(event)

    def _throttle(self, seconds: float, last_beat: float) -> float:
        """Wait `seconds` (input over its rate), beating meanwhile; returns the last beat's time."""
        assert self.channel is not None
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0 and not self.caller.ended.is_set():
            time.sleep(min(left, HEARTBEAT_SECONDS / 2))
            if time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
                self.channel.beat()
                last_beat = time.monotonic()
        return last_beat

    def _relay_out(self) -> None:
        """The run's events to the caller (the second thread), ending the conversation with the last."""
        assert self.channel is not None
        with self.app.app_context():
            try:
                for frame in live.OutRelay(self.channel).frames(self.stopping):
                    if frame is None:
                        continue
                    if frame["type"] in ("exit", "error"):
                        if frame["type"] == "exit":
                            self.run_over.set()
                        else:
                            self.leave_reason = f"the run's relay ended ({frame.get('code')})"
                        self.caller.end(frame, live.close_code(frame), frame.get("code", "completed"))
                        return
                    if not self.caller.send(frame):
                        return
            except Exception as exc:  # noqa: BLE001 - the caller gets an error frame, the log the rest
                problem = as_problem(exc)
                self.caller.end(problem_frame(problem), SERVER_ERROR, problem.code)

    def _part(self) -> None:
        """The conversation is over: a run still going is stopped (its caller is gone)."""
        self.stopping.set()
        if self.channel is not None and not self.run_over.is_set():
            self.channel.leave(self.leave_reason)
        if self.relay is not None:
            self.relay.join(timeout=HEARTBEAT_SECONDS + 2)
        db.session.remove()


def as_problem(exc: Exception) -> Problem:
    """The REST API's answer to the same failure (app/errors.py), as a Problem for the error frame."""
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, DataError):
        return Problem(400, "invalid_value", "a value in the request cannot be stored or looked up")
    if isinstance(exc, DBAPIError):
        log.error("live run: database unavailable: %s", exc)
        return Problem(503, "database_unavailable", "the database is unavailable; retry later")
    if isinstance(exc, redis_lib.RedisError | BrokerError):
        log.error("live run: broker unavailable: %s", exc)
        return Problem(503, "broker_unavailable", "the queue broker is unavailable; retry later")
    log.exception("live run: unexpected error")
    return Problem(500, "internal_error", "an unexpected error occurred")
