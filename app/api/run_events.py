"""POST /codestudio/run with `Accept: text/event-stream`: the run as Server-Sent Events, the same
events a live run's WebSocket gets (app/api/live_doc.py). There is no input beyond the request's
stdin: the program's stdin ends right after it. A request repeated with its Idempotency-Key
streams the first request's run again from its start (as long as its events are kept), without
joining it: no input, no heartbeat, and leaving does not stop it."""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from flask import Response, request, stream_with_context

from sandbox.live import EndOfInput
from tasks.live_channel import HEARTBEAT_SECONDS
from tasks.ports import LiveOptions

from ..errors import Problem
from ..extensions import db
from ..models import User
from ..services import idempotency, live
from ..services.run_request import RunRequest
from ..services.workers import redis

EVENT_STREAM = "text/event-stream"


def wants_event_stream() -> bool:
    return request.accept_mimetypes.best_match(["application/json", EVENT_STREAM]) == EVENT_STREAM


def event(frame: dict[str, Any]) -> str:
    seq = f"id: {frame['seq']}\n" if "seq" in frame else ""
    return f"event: {frame['type']}\n{seq}data: {json.dumps(frame, separators=(',', ':'))}\n\n"


def stream(user: User, run_request: RunRequest, claim: idempotency.Claim | None = None) -> Response:
    slots = live.process_slots()
    if not slots.acquire(blocking=False):
        raise Problem(503, "server_busy", "this API process streams as many runs as it may; retry shortly",
                      headers={"Retry-After": "1"})
    try:
        execution, channel = live.submit(user, replace(run_request, wait=False, live=LiveOptions()), claim)
        channel.send(EndOfInput())
    except live.Replayed as replayed:  # the key's run, as it streams now: read, never stopped from here
        execution_id, channel = replayed.execution_id, live.ReplayChannel(redis(), replayed.execution_id)
        headers = idempotency.REPLAYED
    except BaseException:
        slots.release()
        raise
    else:
        execution_id, headers = execution.id, {}
    db.session.close()  # the stream lasts as long as the run: no connection held meanwhile
    return _response(execution_id, channel, slots, headers)


def _response(execution_id: str, channel: live.RunChannel, slots: threading.BoundedSemaphore,
              headers: dict[str, str]) -> Response:
    stopping, over = threading.Event(), threading.Event()

    def events() -> Iterator[str]:
        yield event({"type": "accepted", "execution_id": execution_id})
        last_beat = time.monotonic()
        for frame in live.OutRelay(channel).frames(stopping):
            if time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
                channel.beat()
                last_beat = time.monotonic()
            if frame is None:
                yield ": waiting\n\n"  # a write each quiet second: a client gone is noticed within one
                continue
            yield event(frame)
            if frame["type"] in ("exit", "error"):
                if frame["type"] == "exit":
                    over.set()
                return

    def closed() -> None:
        stopping.set()
        if not over.is_set():
            channel.leave("the caller disconnected")
        slots.release()

    response = Response(stream_with_context(events()), mimetype=EVENT_STREAM,
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **headers})
    response.call_on_close(closed)
    return response
