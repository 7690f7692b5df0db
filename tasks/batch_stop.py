"""Stopping the tests a cancelled batch is running: the API raises a flag in Redis, and a thread
beside each grading task watches for it while the task runs tests. When it appears the thread sets
the event the sandbox checks while it waits on the jail, so the jail is killed at once (and billed
for what it used) instead of running to its time limit."""
from __future__ import annotations

import logging
import threading

import redis

from . import keys

log = logging.getLogger(__name__)

WATCH_INTERVAL_SECONDS = 0.1


def request_stop(client: redis.Redis, batch_id: str) -> None:
    client.set(keys.batch_cancel_key(batch_id), "1", ex=keys.BATCH_CANCEL_TTL_SECONDS)


class StopWatch:
    """`with StopWatch(client, batch_id) as stop:` — `stop` is set once the batch is cancelled."""

    def __init__(self, client: redis.Redis, batch_id: str, interval: float = WATCH_INTERVAL_SECONDS):
        self.client, self.key, self.interval = client, keys.batch_cancel_key(batch_id), interval
        self.stop, self._finished = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._watch, name=f"stop-watch-{batch_id}", daemon=True)

    def __enter__(self) -> threading.Event:
        self._thread.start()
        return self.stop

    def __exit__(self, *exc_info: object) -> None:
        self._finished.set()
        self._thread.join(timeout=5)

    def _watch(self) -> None:
        while not self._finished.wait(self.interval):
            try:
                if self.client.exists(self.key):
                    self.stop.set()
                    return
            except redis.RedisError as exc:  # Redis away: a running test finishes and is billed as usual
                log.debug("stop watch: cannot read %s: %s", self.key, exc)
