"""Which languages have a live worker right now (from the workers' heartbeat keys)."""
from __future__ import annotations

import json
import time

from flask import current_app

from tasks import keys


def redis():
    return current_app.extensions["redis"]


def live_workers() -> list[dict]:
    client = redis()
    names = list(client.scan_iter(match=keys.WORKER_PREFIX + "*", count=200))
    workers = []
    for raw in client.mget(names) if names else []:
        if raw:
            try:
                workers.append(json.loads(raw))
            except ValueError:
                continue
    return workers


CACHE_SECONDS = 1.0


def is_live(language_id: str, kind: str = "languages") -> bool:
    """A hit may come from the cache; a miss is always checked afresh. kind: "languages"
    (interactive queues), "batch_languages", or "names" (what the language is on that worker)."""
    return language_id in live_languages(kind=kind) or language_id in live_languages(fresh=True, kind=kind)


def live_languages(fresh: bool = False, kind: str = "languages") -> dict[str, str]:
    """language id -> the toolchain version a live worker runs (cached for a second)."""
    cache = current_app.extensions.setdefault(f"codestudio.live.{kind}", {"at": 0.0, "value": {}})
    if not fresh and time.monotonic() - cache["at"] < CACHE_SECONDS:
        return cache["value"]
    found: dict[str, str] = {}
    for worker in live_workers():
        for lang, version in worker.get(kind, {}).items():
            found.setdefault(lang, version)
    cache.update(at=time.monotonic(), value=found)
    return found


def live_packages(language_id: str) -> dict[str, str] | None:
    """name -> version of the library layer a live worker of the language advertises (None when no
    live worker serves it; {} when its workers carry no layer)."""
    serving = [w for w in live_workers()
               if language_id in w.get("languages", {}) or language_id in w.get("batch_languages", {})]
    if not serving:
        return None
    return max((w.get("packages", {}).get(language_id, {}) for w in serving), key=len)
