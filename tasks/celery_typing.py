"""The parts of Celery the tasks use, typed. Celery ships no type information, so its decorators
would leave every task and signal handler untyped: `bound_task` registers a task exactly as
`shared_task(bind=True, ...)` does, and `receiver` connects a handler exactly as `signal.connect`
does, but both keep the decorated function's signature visible to the type checker."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from celery import Task, shared_task
from celery.utils.dispatch import Signal

P = ParamSpec("P")
Handler = TypeVar("Handler", bound=Callable[..., None])


class TaskRequest(Protocol):
    """What a running task knows of the message it handles (celery.app.task.Context)."""
    id: str | None  # the task id: the same across redeliveries and retries
    hostname: str | None
    retries: int
    kwargs: dict[str, Any] | None


class CeleryApp(Protocol):
    """A Celery app, as far as the tasks use one."""
    conf: Any  # Celery's settings: any attribute, ours included (codestudio_*)

    def send_task(self, name: str, args: Sequence[object] | None = None,
                  kwargs: Mapping[str, object] | None = None, **options: Any) -> object: ...


class BoundTask(Protocol):
    """`self` in a task registered with bind=True."""
    request: TaskRequest
    max_retries: int  # every task here sets it (Celery's None, retry forever, is never used)
    app: CeleryApp

    def retry(self, *, exc: Exception, countdown: float, kwargs: Mapping[str, object] | None = None) -> Exception:
        """Raises celery.exceptions.Retry; returns it only in eager mode (hence `raise self.retry(...)`)."""
        ...


def bound_task(**options: Any) -> Callable[[Callable[Concatenate[BoundTask, P], None]], Task]:
    """`@shared_task(bind=True, **options)`."""
    register: Callable[[Callable[..., None]], Task] = shared_task(bind=True, **options)
    return register


def receiver(signal: Signal) -> Callable[[Handler], Handler]:
    """`@signal.connect`: the handler is connected (weakly referenced, as by default) and returned as is."""
    def connect(handler: Handler) -> Handler:
        signal.connect(handler)
        return handler
    return connect
