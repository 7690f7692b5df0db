"""Every queue's name, and the route of each task to one: interactive runs to lang.<id>, batch
grading to batch.<id>, so a large batch never delays someone waiting on one run."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

EXECUTE_TASK = "tasks.execute_run"
GRADE_TASK = "tasks.grade_submission"
CALLBACK_TASK = "tasks.send_callback"
CALLBACK_QUEUE = "callbacks"  # HTTP callbacks: consumed by every worker, never by user code
RETENTION_TASK = "tasks.retention.prune"
# housekeeping (retention): consumed by every worker, one at a time (a Redis lock)
MAINTENANCE_QUEUE = "maintenance"


def queue_for(language_id: str) -> str:
    return f"lang.{language_id}"


def batch_queue_for(language_id: str) -> str:
    return f"batch.{language_id}"


def all_queues(language_ids: Iterable[str]) -> list[str]:
    """What a broker declares: both queues of every language, the callbacks' and maintenance's."""
    ids = list(language_ids)
    return [*map(queue_for, ids), *map(batch_queue_for, ids), CALLBACK_QUEUE, MAINTENANCE_QUEUE]


QUEUE_OF_TASK = {EXECUTE_TASK: queue_for, GRADE_TASK: batch_queue_for}


def route_task(name: str, args: Any, kwargs: dict[str, Any], options: Any, task: Any = None,
               **kw: Any) -> dict[str, str] | None:
    if name == CALLBACK_TASK:
        return {"queue": CALLBACK_QUEUE}
    if name == RETENTION_TASK:
        return {"queue": MAINTENANCE_QUEUE}
    if name in QUEUE_OF_TASK and kwargs.get("language"):
        return {"queue": QUEUE_OF_TASK[name](kwargs["language"])}
    return None
