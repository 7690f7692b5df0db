"""The wire between a live run's worker and the API process holding its caller's connection:
two Redis streams and two heartbeat keys per execution, and the JSON of each event.

- `out` stream (worker → API): stage start/end, output chunks with sequence numbers, `finished`
  (the result is recorded: the API reads it from the database) or `error`.
- `in` stream (API → worker): stdin, eof, signal, resize, stop.
- `client` key: set by the API every HEARTBEAT seconds while the caller is connected; a worker
  that sees it gone ends the run (the caller disconnected, or its API process died).
- `worker` key: set by the worker while the run is live; an API process that sees it gone while
  the execution is running tells its caller the worker was lost.

Streams are capped (OUT_MAXLEN): a caller that reads too slowly sees a gap in the sequence
numbers, and its API process stops the run (`client_too_slow`) instead of holding the output."""
from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from sandbox.live import (
    ClientEvent,
    EndOfInput,
    Input,
    Output,
    Resize,
    RunEvent,
    SendSignal,
    StageStarted,
    Stop,
)

PREFIX = "codestudio:live:"
HEARTBEAT_SECONDS = 1.0
HEARTBEAT_TTL_SECONDS = 4  # a key not refreshed for this long: its owner is gone
OUT_MAXLEN = 4096  # events kept for a slow reader (each output event holds at most one read)
IN_MAXLEN = 1024
STREAM_TTL_SECONDS = 600  # after the run, both streams go


def out_key(execution_id: str) -> str:
    return f"{PREFIX}{execution_id}:out"


def in_key(execution_id: str) -> str:
    return f"{PREFIX}{execution_id}:in"


def client_key(execution_id: str) -> str:
    return f"{PREFIX}{execution_id}:client"


def worker_key(execution_id: str) -> str:
    return f"{PREFIX}{execution_id}:worker"


# ---- worker → API -----------------------------------------------------------------------------

def encode_run_event(event: RunEvent, seq: int) -> dict[str, Any]:
    """The JSON object of a run event; `seq` numbers every event of the run from 1."""
    if isinstance(event, Output):
        return {"type": str(event.stream), "data": event.text, "seq": seq}
    if isinstance(event, StageStarted):
        return {"type": "stage", "stage": str(event.stage), "state": "start", "seq": seq}
    return {"type": "stage", "stage": str(event.stage), "state": "end", "status": event.status,
            "returncode": event.returncode, "signal": event.signal, "seq": seq}


def finished(status: str, seq: int) -> dict[str, Any]:
    """The last event of a run whose result is recorded."""
    return {"type": "finished", "status": status, "seq": seq}


def failed(code: str, detail: str, seq: int) -> dict[str, Any]:
    return {"type": "error", "code": code, "detail": detail, "seq": seq}


# ---- API → worker -----------------------------------------------------------------------------

def encode_client_event(event: ClientEvent) -> dict[str, Any]:
    if isinstance(event, Input):
        return {"type": "stdin", "data": base64.b64encode(event.data).decode()}
    if isinstance(event, EndOfInput):
        return {"type": "eof"}
    if isinstance(event, SendSignal):
        return {"type": "signal", "signal": event.name}
    if isinstance(event, Resize):
        return {"type": "resize", "cols": event.cols, "rows": event.rows}
    return {"type": "stop", "reason": event.reason}


def decode_client_event(fields: dict[str, Any]) -> ClientEvent:
    """What the API wrote (trusted: the API validated the caller's frame)."""
    kind = fields["type"]
    if kind == "stdin":
        return Input(base64.b64decode(fields["data"]))
    if kind == "eof":
        return EndOfInput()
    if kind == "signal":
        return SendSignal(str(fields["signal"]))
    if kind == "resize":
        return Resize(int(fields["cols"]), int(fields["rows"]))
    return Stop(str(fields.get("reason", "stopped")))


# every entry of both streams has one field, FIELD, holding the event's JSON (dumps/loads)
FIELD = "event"


def entry(event: dict[str, Any]) -> dict[str, str]:
    """The fields of the stream entry (XADD) that carries `event`."""
    return {FIELD: dumps(event)}


def event_of(fields: Mapping[Any, Any]) -> dict[str, Any]:
    """The event a stream entry (from XREAD, bytes or str keys) carries."""
    raw = fields.get(FIELD, fields.get(FIELD.encode()))
    if raw is None:
        raise ValueError(f"a live stream entry has a field {FIELD!r}")
    return loads(raw)


def dumps(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"))


def loads(raw: str | bytes) -> dict[str, Any]:
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("a live event is a JSON object")
    return value
