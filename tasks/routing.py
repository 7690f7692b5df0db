"""Routes each task to the queue of its language: interactive runs to lang.<id>, batch
grading to batch.<id>, so a large batch never delays someone waiting on one run."""
EXECUTE_TASK = "tasks.execute_run"
GRADE_TASK = "tasks.grade_submission"
CALLBACK_TASK = "tasks.send_callback"
CALLBACK_QUEUE = "callbacks"  # HTTP callbacks: consumed by every worker, never by user code


def queue_for(language_id: str) -> str:
    return f"lang.{language_id}"


def batch_queue_for(language_id: str) -> str:
    return f"batch.{language_id}"


QUEUE_OF_TASK = {EXECUTE_TASK: queue_for, GRADE_TASK: batch_queue_for}


def route_task(name, args, kwargs, options, task=None, **kw):
    if name == CALLBACK_TASK:
        return {"queue": CALLBACK_QUEUE}
    if name in QUEUE_OF_TASK and kwargs.get("language"):
        return {"queue": QUEUE_OF_TASK[name](kwargs["language"])}
    return None
