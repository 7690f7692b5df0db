"""Recovery of work whose queue message is gone: Redis restarted without its data, or a worker
was cancelled mid-run when it lost the broker. The database is the record, so each worker's main
process looks there now and then, for the languages it serves, and sends such work again:

- queued longer than `queued_after` (its message should have been consumed by now): sent again,
  and again only once it has waited as long once more, so a long backlog costs a few cheap
  duplicates, never a flood;
- claimed by an attempt whose time is up (its own time limits plus `running_grace`): sent to take
  over that very attempt.

A re-sent message is harmless when the original still exists: only one claim wins, and a message
may take over a running attempt only when it names it (tasks/ports.py Delivery), so a duplicate
never starts a second, concurrent run, nor records or bills anything twice.
"""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable

from .celery_typing import CeleryApp
from .execution import redis_client
from .ports import Lost, RecoveryPolicy, ports

log = logging.getLogger(__name__)

RESENT_PREFIX = "codestudio:resent:"

# The main process forks pool processes (billiard) while this thread may be inside the database
# driver: a child forked at that moment inherits the driver's process-wide mutexes (SQLite's VFS
# and allocator mutexes) locked and hangs on its first query. So a fork waits for the look.
database_in_use = threading.Lock()
os.register_at_fork(before=database_in_use.acquire, after_in_parent=database_in_use.release,
                    after_in_child=database_in_use.release)


def resent_key(lost: Lost) -> str:
    return f"{RESENT_PREFIX}{lost.task}:{lost.id}:{lost.resume_attempt or 0}"


def send_again(celery_app: CeleryApp, url: str, found: list[Lost], policy: RecoveryPolicy) -> int:
    """Send each once across all workers, then not before it has waited as long again."""
    client, sent = redis_client(url), 0
    for lost in found:
        key = resent_key(lost)
        if not client.set(key, "1", nx=True, ex=max(1, round(max(policy.queued_after, lost.age)))):
            continue  # sent already, by this worker or another
        try:
            celery_app.send_task(lost.task, args=[lost.id],
                                 kwargs={"language": lost.language, "resume_attempt": lost.resume_attempt})
        except Exception:
            client.delete(key)  # not sent after all: the next look tries again
            raise
        sent += 1
    return sent


class Recovery:
    """The thread in a worker's main process that looks for lost work of the languages it serves."""

    def __init__(self, celery_app: CeleryApp, url: str, languages: Iterable[str], batch_languages: Iterable[str],
                 policy: RecoveryPolicy) -> None:
        self.app, self.url, self.policy = celery_app, url, policy
        self.languages, self.batch_languages = sorted(languages), sorted(batch_languages)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="codestudio-recovery", daemon=True)

    def look(self) -> int:
        with database_in_use:
            found = ports().lost_work.find(self.languages, self.batch_languages, self.policy)
        sent = send_again(self.app, self.url, found, self.policy) if found else 0
        if sent:
            log.warning("recovery: sent %d lost task(s) again", sent)
        return sent

    def _loop(self) -> None:
        while not self.stopped.wait(self.policy.interval):
            try:
                self.look()
            except Exception as exc:  # database or broker down: look again next time
                log.warning("recovery: could not look for lost work: %s", exc)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
