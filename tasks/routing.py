"""Routes each execution to the queue of its language."""
EXECUTE_TASK = "tasks.execute_run"


def queue_for(language_id: str) -> str:
    return f"lang.{language_id}"


def route_task(name, args, kwargs, options, task=None, **kw):
    if name == EXECUTE_TASK and kwargs.get("language"):
        return {"queue": queue_for(kwargs["language"])}
    return None
