"""What a worker reports for the API's `GET /metrics` to read: the runs directory's disk (one key
per host, from the main process) and its warm compile jails (one key per pool process, which keeps
its own). Each key expires unless renewed, so a dead host or process stops counting by itself."""
from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from celery import signals

from sandbox.settings import SandboxSettings

from . import keys
from .celery_typing import receiver
from .execution import redis_client, runner
from .metrics import HOST_PREFIX, WARM_PREFIX

log = logging.getLogger(__name__)

_where: dict[str, str] = {}  # hostname and Redis URL, set in the main process before the pool forks


class Reporter:
    """Writes `payload()` to `key` every heartbeat, with the heartbeat's expiry."""

    def __init__(self, key: str, payload: Callable[[], dict[str, Any]]):
        self.key, self.payload = key, payload
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="codestudio-gauges", daemon=True)

    def report(self) -> None:
        redis_client(_where["url"]).set(self.key, json.dumps(self.payload()), ex=keys.HEARTBEAT_TTL_SECONDS)

    def _loop(self) -> None:
        while True:
            try:
                self.report()
            except Exception as exc:  # Redis down: the key expires, the gauge goes missing meanwhile
                log.warning("worker gauges not reported: %s", exc)
            if self.stopped.wait(keys.HEARTBEAT_SECONDS):
                return

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        try:
            redis_client(_where["url"]).delete(self.key)
        except Exception:
            pass


def disk() -> dict[str, Any]:
    stat = os.statvfs(SandboxSettings.from_env().runs_dir)
    return {"runs_dir_free_bytes": stat.f_bavail * stat.f_frsize, "runs_dir_size_bytes": stat.f_blocks * stat.f_frsize}


def warm_jails() -> dict[str, Any]:
    """The jails this pool process keeps started ahead of need, idle, per language."""
    return {"compile": runner().warm.idle_counts(), "run": runner().ready.idle_counts()}


_reporters: dict[str, Reporter] = {}


@receiver(signals.celeryd_after_setup)
def remember_where(sender: str, instance: Any, conf: Any, **kwargs: object) -> None:
    _where.update(host=sender, url=conf.codestudio_redis_url)


@receiver(signals.worker_ready)
def report_host(sender: object = None, **kwargs: object) -> None:
    _reporters["host"] = Reporter(HOST_PREFIX + _where["host"], disk)
    _reporters["host"].start()


@receiver(signals.worker_process_init)
def report_warm_pool(**kwargs: object) -> None:
    _reporters.pop("host", None)  # the parent's, not started in this process
    _reporters["warm"] = Reporter(f"{WARM_PREFIX}{_where['host']}:{os.getpid()}", warm_jails)
    _reporters["warm"].start()


@receiver(signals.worker_process_shutdown)
def stop_warm_pool(**kwargs: object) -> None:
    if "warm" in _reporters:
        _reporters.pop("warm").stop()


@receiver(signals.worker_shutdown)
def stop_host(sender: object = None, **kwargs: object) -> None:
    if "host" in _reporters:
        _reporters.pop("host").stop()
