"""Live runs in the API process: accepting one, and relaying between its caller and the worker
that owns its jail over the Redis wire of tasks/live_channel.py (the API never runs code).

`RunChannel` is this process's end of one run's wire: input to the `in` stream, the `client`
heartbeat, the `out` stream read in order. `OutRelay` turns the `out` stream into the frames the
caller gets, ending with `exit` (the execution as GET /codestudio/executions/<id> shows it) or an
`error` (the worker was lost, the caller read too slowly)."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import redis as redis_lib
import sqlalchemy as sa
from flask import current_app

from sandbox import FINAL_STATUSES, ExecutionStatus
from sandbox.live import ClientEvent, Input, Stop
from tasks import live_channel as wire

from ..errors import Problem
from ..extensions import db
from ..models import Execution, User
from ..schemas.runs import ExecutionSchema
from ..stores.executions import SqlExecutionStore
from . import idempotency, runs
from .live_frames import POLICY, SERVER_ERROR, error_frame
from .run_request import RunRequest
from .workers import is_live, redis

log = logging.getLogger(__name__)

READ_BLOCK_MS = int(wire.HEARTBEAT_SECONDS * 1000)  # a read waits this long: the caller's beat comes between
READ_COUNT = 256  # events taken from the stream at once (bounded: output is relayed, not held)
FINISHED_ROW_WAIT_SECONDS = 2.0  # `finished` follows the commit; a replica may lag a moment


class RunChannel:
    """The API's end of one live run's wire."""

    def __init__(self, client: redis_lib.Redis, execution_id: str):
        self.client, self.execution_id = client, execution_id
        self.in_key, self.out_key = wire.in_key(execution_id), wire.out_key(execution_id)

    def send(self, event: ClientEvent) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.xadd(self.in_key, wire.entry(wire.encode_client_event(event)),  # type: ignore[arg-type]
                  maxlen=wire.IN_MAXLEN, approximate=True)
        pipe.expire(self.in_key, wire.STREAM_TTL_SECONDS)
        pipe.execute()

    def beat(self) -> None:
        """The caller is still here (the worker stops a run whose caller's beat is gone)."""
        self.client.set(wire.client_key(self.execution_id), "1", ex=wire.HEARTBEAT_TTL_SECONDS)

    def leave(self, reason: str) -> None:
        """The caller is gone: the worker ends the run now (stop), or at the latest when it sees no beat."""
        try:
            self.send(Stop(reason))
            self.client.delete(wire.client_key(self.execution_id))
        except redis_lib.RedisError:
            log.warning("live run %s: could not tell its worker the caller left", self.execution_id)

    def read(self, after: str, block_ms: int = READ_BLOCK_MS) -> list[tuple[str, dict[str, Any]]]:
        """(entry id, event) of the `out` stream after `after`, waiting at most block_ms for one."""
        reply: Any = self.client.xread({self.out_key: after}, count=READ_COUNT, block=block_ms)
        entries = []
        for _, stream_entries in reply or ():
            for entry_id, fields in stream_entries:
                entries.append((_text(entry_id), wire.event_of(fields)))
        return entries

    def worker_present(self) -> bool:
        return bool(self.client.exists(wire.worker_key(self.execution_id)))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class Replayed(Problem):
    """A live start repeated with its Idempotency-Key: the run it started cannot be joined again."""

    def __init__(self, execution_id: str):
        super().__init__(409, "idempotency_key_replayed", f"this Idempotency-Key started execution {execution_id} "
                         "already; a live run cannot be joined again: GET /codestudio/executions/"
                         f"{execution_id} for its result", execution_id=execution_id)
        self.execution_id = execution_id


def submit(user: User, request: RunRequest, claim: idempotency.Claim | None = None) -> tuple[Execution, RunChannel]:
    """Check, record and enqueue a live run like any run (quotas, tier limits, the tier's cap on
    live runs); its caller's beat is set before a worker can claim it, and the request's stdin is
    its first input (the row keeps none: the transcript is the output). With a claim whose key
    already started a run: Replayed, and no second run."""
    assert request.live is not None
    if claim is None:
        execution = _accept(user, request, None)
    else:
        execution, replayed = claim.once(lambda: _accept(user, request, claim),
                                         lambda prior: runs.get_owned(user, str(prior.execution_id)))
        if replayed:
            raise Replayed(execution.id)
    try:
        channel = _open(execution, request)
        runs.enqueue(execution)
    except Problem:
        if claim is not None:
            claim.release()  # the run failed unsent: a retry with the key starts it anew
        raise
    return execution, channel


def _accept(user: User, request: RunRequest, claim: idempotency.Claim | None) -> Execution:
    values = runs.prepare(user, request)
    if not is_live(values.language):
        raise Problem(503, "no_worker", f"no worker is serving {values.language} right now; retry later",
                      language=values.language)
    attach = None if claim is None else lambda _, row: claim.record(execution=row)
    [execution] = runs.record(user, [replace(values, stdin=b"")], attach)
    return execution


def _open(execution: Execution, request: RunRequest) -> RunChannel:
    channel = RunChannel(redis(), execution.id)
    try:
        channel.beat()
        if request.stdin:
            channel.send(Input(request.stdin.encode()))
    except redis_lib.RedisError as exc:
        SqlExecutionStore().fail(execution.id, "could not open the live channel: broker unavailable")
        raise Problem(503, "broker_unavailable", "the queue broker is unavailable; retry later",
                      execution_id=execution.id) from exc
    return channel


class ReplayChannel(RunChannel):
    """A reader of a run's `out` stream that is not its caller: it sends nothing, beats for no one
    and never stops the run (an event stream replayed with its Idempotency-Key)."""

    def send(self, event: ClientEvent) -> None:
        pass

    def beat(self) -> None:
        pass

    def leave(self, reason: str) -> None:
        pass


def result_of(execution_id: str) -> dict[str, Any] | None:
    """The execution as GET /codestudio/executions/<id> shows it, once it is final; else None."""
    try:
        row = db.session.execute(sa.select(Execution).where(Execution.id == execution_id)
                                 .execution_options(populate_existing=True)).scalar_one_or_none()
        if row is None or row.status not in FINAL_STATUSES:
            return None
        return dict(ExecutionSchema().dump(row))
    finally:
        db.session.close()  # a live run lasts minutes: its relay holds no connection meanwhile


def status_of(execution_id: str) -> str | None:
    try:
        return db.session.execute(sa.select(Execution.status).where(Execution.id == execution_id)).scalar()
    finally:
        db.session.close()


def exit_frame(result: dict[str, Any]) -> dict[str, Any]:
    return {"type": "exit", "result": result}


def close_code(last: dict[str, Any]) -> int:
    """How the connection closes after the relay's last frame."""
    if last["type"] == "exit":
        return 1000
    return POLICY if last.get("code") == "client_too_slow" else SERVER_ERROR


class OutRelay:
    """The caller's frames from the `out` stream, in order; the last one is `exit` or `error`."""

    def __init__(self, channel: RunChannel):
        self.channel = channel
        self.after = "0-0"
        self.expected_seq = 1
        self.running_without_worker_since: float | None = None
        self.worker_seen = False  # its heartbeat was there: once gone, the worker is

    def frames(self, stopping: threading.Event) -> Iterator[dict[str, Any] | None]:
        """Each frame for the caller; None after a quiet second (the caller's turn to beat or keep
        the line alive). Ends after the last frame, or when `stopping` is set."""
        while not stopping.is_set():
            entries = self.channel.read(self.after)
            if not entries:
                last = self._quiet()
                yield last
                if last is not None:
                    return
                continue
            for entry_id, event in entries:
                self.after = entry_id
                frame, done = self._forward(event)
                if frame is not None:
                    yield frame
                if done:
                    return

    def _forward(self, event: dict[str, Any]) -> tuple[dict[str, Any] | None, bool]:
        """(the frame for the caller or None, whether it is the last)."""
        seq = event.get("seq")
        if isinstance(seq, int):
            if seq > self.expected_seq:  # the stream's cap dropped events the caller had not taken
                self.channel.leave("client_too_slow")
                return error_frame("client_too_slow", "the caller read the output too slowly; the run "
                                   f"was stopped (events {self.expected_seq} to {seq - 1} were dropped)"), True
            self.expected_seq = max(self.expected_seq, seq + 1)
        kind = event.get("type")
        if kind == "finished":
            result = self._final_result()
            if result is None:  # recorded, says the worker, yet not to be read
                return error_frame("internal_error", "the run ended but its result cannot be read; "
                                   "GET the execution"), True
            return exit_frame(result), True
        if kind == "error":
            return error_frame(str(event.get("code", "internal_error")), str(event.get("detail", ""))), True
        return event, False

    def _final_result(self) -> dict[str, Any] | None:
        deadline = time.monotonic() + FINISHED_ROW_WAIT_SECONDS
        while True:
            result = result_of(self.channel.execution_id)
            if result is not None or time.monotonic() > deadline:
                return result
            time.sleep(0.05)

    def _quiet(self) -> dict[str, Any] | None:
        """After a second without events: the last frame if the run ended without `finished`
        reaching us or its worker is gone; else None."""
        if self.channel.worker_present():
            self.running_without_worker_since = None
            self.worker_seen = True
            return None
        status = status_of(self.channel.execution_id)
        if status in FINAL_STATUSES:
            result = result_of(self.channel.execution_id)
            return exit_frame(result) if result is not None else None
        if status != ExecutionStatus.RUNNING:  # queued: no worker has it yet
            self.running_without_worker_since = None
            return None
        now = time.monotonic()
        if self.running_without_worker_since is None:  # claimed, its heartbeat maybe not yet set
            self.running_without_worker_since = now
        if not self.worker_seen and now - self.running_without_worker_since < wire.HEARTBEAT_TTL_SECONDS:
            return None
        return error_frame("worker_lost", "the worker running this execution was lost; a live run is not "
                           "run again (it ends internal_error)", execution_id=self.channel.execution_id)


def process_slots() -> threading.BoundedSemaphore:
    """The live connections (WebSocket or event stream) this API process holds at once
    (LIVE_CONNECTIONS): each holds a thread for as long as its run lasts."""
    slots = current_app.extensions.get("codestudio.live.slots")
    if slots is None:
        slots = current_app.extensions.setdefault(
            "codestudio.live.slots", threading.BoundedSemaphore(current_app.config["LIVE_CONNECTIONS"]))
    return slots
