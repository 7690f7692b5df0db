"""Which languages have a live worker right now (from the workers' heartbeat keys)."""
from __future__ import annotations

import json

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


def live_languages() -> dict[str, str]:
    """language id -> the toolchain version a live worker runs."""
    found = {}
    for worker in live_workers():
        for lang, version in worker.get("languages", {}).items():
            found.setdefault(lang, version)
    return found
