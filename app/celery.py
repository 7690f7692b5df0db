"""Celery wired into Flask with the Flask docs' celery_init_app pattern."""
from __future__ import annotations

from celery import Celery, Task, signals
from flask import Flask

from tasks.batch_store import batch_store
from tasks.callbacks import callback_source
from tasks.recovery import lost_work
from tasks.store import execution_store

from .extensions import db
from .services.batch_store import SqlBatchStore
from .services.callbacks import callback_for
from .services.execution_store import SqlExecutionStore
from .services.recovery import SqlLostWork
from .services.tiers import compile_caps


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
                           codestudio_compile_caps=compile_caps(app.config["TIERS"]))
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    execution_store.set(SqlExecutionStore())
    batch_store.set(SqlBatchStore())
    callback_source.set(callback_for)
    lost_work.set(SqlLostWork(app))

    @signals.worker_process_init.connect(weak=False)
    def fresh_connections(**kwargs):
        # forked pool processes must not share the parent's pooled DB connections; close=False
        # leaves the parent's (used by its recovery thread) open (SQLAlchemy's advice for fork)
        with app.app_context():
            db.engine.dispose(close=False)

    return celery_app
