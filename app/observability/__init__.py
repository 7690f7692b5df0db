"""Logs and metrics for the API and the workers (docs/observability.md): `init_worker` for both
(the JSON/text log format, the observed execution store), `init_api` for the HTTP layer (a line
per request, refusals counted by their problem code, new executions bound to the request's log
context)."""
from __future__ import annotations

import logging
import time
import weakref
from dataclasses import replace
from typing import Any

import redis
from celery import signals
from flask import Flask, Response, g, request
from sqlalchemy import event
from sqlalchemy.orm import Session

from tasks import metrics, ports
from tasks.metrics import Recorder, Sample

from ..models import Execution
from . import logs
from .batches import ObservedBatchStore
from .store import ObservedExecutionStore

http_log = logging.getLogger("codestudio.http")
execution_log = logging.getLogger("codestudio.executions")
QUIET_PATHS = ("/healthz",)  # polled by the front and by orchestrators


_recorders: weakref.WeakKeyDictionary[Flask, Recorder] = weakref.WeakKeyDictionary()


def recorder_for(app: Flask) -> Recorder:
    """One per app: its own Redis client with short timeouts (a metric is never worth a wait)."""
    if app not in _recorders:
        _recorders[app] = Recorder(
            redis.Redis.from_url(app.config["REDIS_URL"], socket_timeout=2, socket_connect_timeout=2))
    return _recorders[app]


def init_worker(app: Flask) -> None:
    settings = logs.LogSettings.from_config(app.config)
    if not app.config.get("TESTING"):  # a test process keeps pytest's logging
        logs.configure(settings)

        @signals.setup_logging.connect(weak=False)
        def keep_our_logging(loglevel: Any = None, **kwargs: Any) -> None:
            # a receiver here stops Celery from replacing the root logger's handlers
            logs.configure(settings, loglevel)

    @signals.task_prerun.connect(weak=False)
    def _unbind(**kwargs: Any) -> None:
        logs.bind(None)  # a pool process runs task after task: no line inherits the last one's execution

    wired = ports.ports()
    if not isinstance(wired.executions, ObservedExecutionStore):
        recorder = recorder_for(app)
        ports.wire(replace(wired, executions=ObservedExecutionStore(wired.executions, recorder),
                           batches=ObservedBatchStore(wired.batches, recorder)))


def init_api(app: Flask) -> None:
    recorder = recorder_for(app)

    @app.before_request
    def _start() -> None:
        logs.bind(None)  # threads serve request after request
        g.codestudio_started = time.monotonic()

    @app.after_request
    def _observe(response: Response) -> Response:
        if response.status_code >= 400:
            recorder.record(Sample(metrics.REFUSALS, (_code_of(response), str(response.status_code)), 1))
        _note_final_status(response)
        if request.path not in QUIET_PATHS:
            elapsed = time.monotonic() - g.get("codestudio_started", time.monotonic())
            # the path only: a query string may carry anything
            http_log.info("%s %s %s", request.method, request.path, response.status_code,
                          extra={"http_status": response.status_code, "duration_ms": round(elapsed * 1000, 1)})
        return response


def _note_final_status(response: Response) -> None:
    """A waited run answers with its result: the request's last line carries the status it ended with."""
    context = logs.bound()
    if context is None or not response.is_json or response.is_streamed:
        return
    body = response.get_json(silent=True)
    if isinstance(body, dict) and body.get("id") == context.execution_id and isinstance(body.get("status"), str):
        logs.set_status(body["status"])


def _code_of(response: Response) -> str:
    if response.mimetype == "application/problem+json":
        body = response.get_json(silent=True)
        if isinstance(body, dict) and isinstance(body.get("code"), str):
            return body["code"]
    return f"http_{response.status_code}"  # Judge0's and Piston's own error bodies


@event.listens_for(Session, "after_flush")
def _new_executions(session: Session, context: Any) -> None:
    created = [logs.ExecutionContext(obj.id, obj.user_id, obj.language, str(obj.status))
               for obj in session.new if isinstance(obj, Execution)]
    if created:
        session.info.setdefault("codestudio.created", []).extend(created)


@event.listens_for(Session, "after_commit")
def _log_created(session: Session) -> None:
    for created in session.info.pop("codestudio.created", []):
        logs.bind(created)  # the rest of the request (enqueue, waiting) carries it
        execution_log.info("execution accepted")


@event.listens_for(Session, "after_rollback")
def _forget_created(session: Session) -> None:
    session.info.pop("codestudio.created", None)
