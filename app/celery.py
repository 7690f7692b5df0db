"""Celery wired into Flask with the Flask docs' celery_init_app pattern."""
from __future__ import annotations

from celery import Celery, Task, signals
from flask import Flask, current_app

from tasks import ports
from tasks.retention import beat_schedule

from .extensions import db
from .services.tiers import compile_caps
from .stores import sql_ports


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object("celeryconfig")
    celery_app.conf.update(broker_url=app.config["CELERY_BROKER_URL"],
                           codestudio_redis_url=app.config["REDIS_URL"],
                           codestudio_recovery=app.config["RECOVERY"],
                           codestudio_live_idle_seconds=app.config["LIVE_IDLE_SECONDS"],
                           codestudio_compile_caps=compile_caps(app.config["TIERS"]),
                           # `celery beat` (one process: docs/retention.md) sends what this schedules
                           beat_schedule=beat_schedule(app.config["RETENTION_DAYS"],
                                                       app.config["RETENTION_INTERVAL_SECONDS"],
                                                       app.config["RETENTION_DRY_RUN"]))
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    ports.wire(sql_ports(app))  # what the tasks read and write: the database

    @signals.worker_process_init.connect(weak=False)
    def fresh_connections(**kwargs):
        # forked pool processes must not share the parent's pooled DB connections; close=False
        # leaves the parent's (used by its recovery thread) open (SQLAlchemy's advice for fork)
        with app.app_context():
            db.engine.dispose(close=False)

    return celery_app


def bound(task: Task) -> Task:
    """A task as registered with this Flask app's Celery (its broker): a process may hold several
    apps (tests do), and a shared task alone resolves to whichever was made the default last."""
    return current_app.extensions["celery"].tasks[task.name]
