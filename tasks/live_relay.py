"""The worker's end of a live run's wire (tasks/live_channel.py): a LiveSession over Redis. What
the run reports goes to the `out` stream; what the caller sends is read from the `in` stream; the
`worker` heartbeat says this worker still holds the run, the `client` one that its caller is there.

Every call is bounded by short socket timeouts: a Redis that stops answering raises (the run ends
as an infrastructure error), it never hangs the run."""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.typing import EncodableT, FieldT

from sandbox.live import ClientEvent, RunEvent, Stop

from . import live_channel as channel

log = logging.getLogger(__name__)

SOCKET_SECONDS = 2.0  # one Redis call's longest wait (a blocking read's own wait comes on top)
CLIENT_CHECK_SECONDS = 0.5  # how often an idle receive looks whether the caller is still there
READ_COUNT = 64  # events taken from the `in` stream per read
# a stream outlives its run this long (STREAM_TTL_SECONDS), and a run whose worker dies before
# setting that: this much longer, so streams never stay behind
RUN_TTL_SECONDS = 900
CALLER_GONE = "the caller disconnected"

Entries = list[tuple[bytes, dict[bytes, bytes]]]  # a stream's entries as read: (id, fields)

_clients: dict[str, redis.Redis] = {}


def live_redis(url: str) -> redis.Redis:
    """One client per worker process for live runs: short timeouts and one quick retry, so a lost
    Redis ends a run within seconds (the task's own client waits and retries longer)."""
    if url not in _clients:
        _clients[url] = redis.Redis.from_url(url, socket_timeout=SOCKET_SECONDS,
                                             socket_connect_timeout=SOCKET_SECONDS,
                                             retry=Retry(NoBackoff(), 1), health_check_interval=30)
    return _clients[url]


class RedisLiveSession:
    """One live run's session; `open` it, hand it to the sandbox, then `finish` or `fail` it."""

    def __init__(self, client: redis.Redis, execution_id: str, first_seq: int = 1):
        self.client, self.execution_id = client, execution_id
        self.out, self.inbox = channel.out_key(execution_id), channel.in_key(execution_id)
        self.seq = first_seq - 1  # the last sequence number sent
        self.last_id = "0-0"  # read `in` from its start: input sent before the run began is kept
        self.pending: deque[ClientEvent] = deque()
        self.client_checked_at = -CLIENT_CHECK_SECONDS  # the first quiet receive looks at once
        self.caller_gone = False
        self.lost: redis.exceptions.RedisError | None = None  # the channel failed during the run
        self.bounded = False  # the streams' TTLs are set (by the first send)
        self._heartbeat = Heartbeat(client, channel.worker_key(execution_id))

    @classmethod
    def open(cls, client: redis.Redis, execution_id: str) -> RedisLiveSession:
        """Takes the run: the worker heartbeat is kept until the session closes."""
        session = cls.resume(client, execution_id)
        session._heartbeat.start()
        return session

    @classmethod
    def resume(cls, client: redis.Redis, execution_id: str) -> RedisLiveSession:
        """A session whose sequence numbers go on from the stream's last (a run its lost worker
        began), without a heartbeat: to end the run."""
        last = cast(Entries, client.xrevrange(channel.out_key(execution_id), count=1))
        return cls(client, execution_id, first_seq=_seq_of(last[0][1]) + 1 if last else 1)

    # ---- LiveSession ------------------------------------------------------------------------

    def send(self, event: RunEvent) -> None:
        self.seq += 1
        with self._channel():
            self._add(channel.encode_run_event(event, self.seq))

    def receive(self, timeout: float) -> ClientEvent | None:
        if not self.pending and not self.caller_gone:
            with self._channel():
                self._read(timeout)
        if self.pending:
            return self.pending.popleft()
        if self.caller_gone:
            return Stop(CALLER_GONE)
        return None

    @contextmanager
    def _channel(self) -> Iterator[None]:
        """Remembers a Redis failure (the run's end is then the channel's, not the program's)."""
        try:
            yield
        except redis.exceptions.RedisError as exc:
            self.lost = self.lost or exc
            raise

    # ---- the end ----------------------------------------------------------------------------

    def finish(self, status: str) -> None:
        """The result is recorded: tell the caller's API process to read it."""
        self._close(channel.finished(status, self.seq + 1))

    def fail(self, code: str, detail: str) -> None:
        """Best effort (the channel may be what failed): the run ended without its result."""
        try:
            self._close(channel.failed(code, detail, self.seq + 1))
        except redis.exceptions.RedisError as exc:
            log.warning("execution %s: could not tell the caller it failed (%s): %s", self.execution_id, code, exc)
            self._heartbeat.stop()

    def _close(self, final: dict[str, Any]) -> None:
        self._heartbeat.stop()
        self.seq = int(final["seq"])
        pipe = self.client.pipeline(transaction=False)
        pipe.xadd(self.out, _entry(final), maxlen=channel.OUT_MAXLEN, approximate=True)
        pipe.expire(self.out, channel.STREAM_TTL_SECONDS)
        pipe.expire(self.inbox, channel.STREAM_TTL_SECONDS)
        pipe.delete(channel.worker_key(self.execution_id))
        pipe.execute()

    # ---- Redis ------------------------------------------------------------------------------

    def _add(self, event: dict[str, Any]) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.xadd(self.out, _entry(event), maxlen=channel.OUT_MAXLEN, approximate=True)
        if not self.bounded:  # the streams are bounded in time even if this worker dies
            pipe.expire(self.out, RUN_TTL_SECONDS)
            pipe.expire(self.inbox, RUN_TTL_SECONDS)
        pipe.execute()
        self.bounded = True

    def _read(self, timeout: float) -> None:
        block = max(1, int(timeout * 1000))  # BLOCK 0 would wait forever
        answer = cast(list[tuple[bytes, Entries]] | None,
                      self.client.xread({self.inbox: self.last_id}, count=READ_COUNT, block=block))
        for _stream, entries in answer or ():
            for entry_id, fields in entries:
                self.last_id = _text(entry_id)
                self.pending.append(channel.decode_client_event(channel.event_of(fields)))
        if not self.pending:
            self._check_client()

    def _check_client(self) -> None:
        now = time.monotonic()
        if now - self.client_checked_at < CLIENT_CHECK_SECONDS:
            return
        self.client_checked_at = now
        self.caller_gone = not self.client.exists(channel.client_key(self.execution_id))


class Heartbeat:
    """Sets `key` every HEARTBEAT_SECONDS from a thread of its own, so it is kept while the run
    compiles or waits on its input too; a worker that dies stops it, and the key expires."""

    def __init__(self, client: redis.Redis, key: str):
        self.client, self.key = client, key
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"live-heartbeat {key}", daemon=True)

    def start(self) -> None:
        self._set()  # at once: the caller's API process may look before the first beat
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=SOCKET_SECONDS * 3)

    def _beat(self) -> None:
        while not self._stopped.wait(channel.HEARTBEAT_SECONDS):
            try:
                self._set()
            except redis.exceptions.RedisError as exc:  # the run's own calls fail too and end it
                log.warning("live heartbeat %s not refreshed: %s", self.key, exc)

    def _set(self) -> None:
        self.client.set(self.key, "1", ex=channel.HEARTBEAT_TTL_SECONDS)


def _entry(event: dict[str, Any]) -> dict[FieldT, EncodableT]:
    fields: dict[FieldT, EncodableT] = {}
    fields.update(channel.entry(event))
    return fields


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _seq_of(fields: dict[Any, Any]) -> int:
    return int(channel.event_of(fields).get("seq", 0))
