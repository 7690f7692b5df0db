"""The API process's part in a live run, played on Redis (tasks/live_channel.py) without the
WebSocket: submit the run with the caller's heartbeat set, refresh it, write the caller's events to
the `in` stream, read the run's from the `out` stream."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

import redis

from sandbox.live import ClientEvent
from tasks import live_channel as channel
from tasks.ports import LiveOptions


def submit_live(app, user_id: int, code: str, language: str = "python", tty: bool = False, **request) -> str:
    """Record and enqueue a live run as the API does: the caller's heartbeat is set before the
    worker can claim it. Returns its execution id."""
    from app.extensions import db
    from app.models import User
    from app.services.run_request import RunRequest
    from app.services.runs import submit

    def heartbeat(row) -> None:
        db.session.flush()  # the row's id
        app.extensions["redis"].set(channel.client_key(row.id), "1", ex=channel.HEARTBEAT_TTL_SECONDS)

    with app.app_context():
        user = db.session.get_one(User, user_id)
        live = LiveOptions(tty=tty)
        return submit(user, RunRequest(language=language, code=code, wait=False, live=live, **request),
                      attach=heartbeat).id


class Caller:
    """One connected caller: its heartbeat is refreshed until `leave`. Events read are kept in
    `events`, in order."""

    def __init__(self, client: redis.Redis, execution_id: str):
        self.client, self.execution_id = client, execution_id
        self.events: list[dict] = []
        self.arrived: list[float] = []  # when each event was read
        self.last_id = "0-0"
        self._left = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, daemon=True)
        self._beat.start()

    def _heartbeat(self) -> None:
        while True:
            try:
                self.client.set(channel.client_key(self.execution_id), "1", ex=channel.HEARTBEAT_TTL_SECONDS)
            except redis.exceptions.RedisError:
                return  # the test's Redis is gone: the test is over
            if self._left.wait(channel.HEARTBEAT_SECONDS):
                return

    def leave(self) -> None:
        """Stop refreshing the heartbeat (the key expires as if the API process had died)."""
        self._left.set()
        self._beat.join()

    def send(self, *events: ClientEvent) -> None:
        for event in events:
            self.client.xadd(channel.in_key(self.execution_id), channel.entry(channel.encode_client_event(event)),
                             maxlen=channel.IN_MAXLEN, approximate=True)

    def read(self, seconds: float) -> list[dict]:
        """The events that arrive within `seconds` (at least one if any does)."""
        answer = self.client.xread({channel.out_key(self.execution_id): self.last_id},
                                   block=max(1, int(seconds * 1000)))
        new = []
        for _stream, entries in answer or ():
            for entry_id, fields in entries:
                self.last_id = entry_id
                new.append(channel.event_of(fields))
        now = time.monotonic()
        self.events += new
        self.arrived += [now] * len(new)
        return new

    def until(self, condition: Callable[[dict], bool], seconds: float = 30) -> dict:
        """Read until an event meets `condition`; that event."""
        deadline = time.monotonic() + seconds
        seen = len(self.events)
        while True:
            for event in self.events[seen:]:
                if condition(event):
                    return event
            seen = len(self.events)
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no such event within {seconds} s; got {self.events!r}")
            self.read(min(left, 1.0))

    def text_until(self, needle: str, seconds: float = 30, kinds: tuple[str, ...] = ("stdout", "output")) -> str:
        """Read until the output of these kinds holds `needle`; that output."""
        self.until(lambda _: needle in self.text(kinds), seconds)
        return self.text(kinds)

    def text(self, kinds: tuple[str, ...] = ("stdout", "output")) -> str:
        return "".join(event["data"] for event in self.events if event["type"] in kinds)

    def last(self, seconds: float = 30) -> dict:
        """The run's last event (`finished` or `error`)."""
        return self.until(lambda event: event["type"] in ("finished", "error"), seconds)
