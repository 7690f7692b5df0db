"""The SQL implementations of the worker's ports (tasks/ports.py), built together: `sql_ports`."""
from __future__ import annotations

from flask import Flask
from sqlalchemy.exc import OperationalError

from tasks.artifact_store import StoreSettings, blob_store
from tasks.ports import ArtifactPorts, Ports, RetentionPorts

from ..compat.judge0_callbacks import callback_for, callback_wanted
from ..services import artifacts
from .batches import SqlBatchStore
from .executions import SqlExecutionStore
from .lost_work import SqlLostWork
from .retention import SqlRetentionStore

__all__ = ["SqlBatchStore", "SqlExecutionStore", "SqlLostWork", "SqlRetentionStore", "artifact_ports",
           "retention_ports", "sql_ports"]


def artifact_ports(app: Flask) -> ArtifactPorts:
    """The artifact store this app's configuration names, and its expiry run in the app's context."""
    blobs = blob_store(StoreSettings.from_config(app.config))

    def expire() -> int:
        with app.app_context():
            return artifacts.expire(blobs)[0]

    return ArtifactPorts(blobs=blobs, expire=expire, expire_interval=app.config["ARTIFACT_EXPIRE_INTERVAL_SECONDS"])


def retention_ports(app: Flask) -> RetentionPorts:
    """What retention prunes, and how old it must be, as this app's configuration says."""
    return RetentionPorts(store=SqlRetentionStore(), days=app.config["RETENTION_DAYS"],
                          chunk_rows=app.config["RETENTION_CHUNK_ROWS"])


def sql_ports(app: Flask) -> Ports:
    return Ports(executions=SqlExecutionStore(callback_wanted=callback_wanted), batches=SqlBatchStore(),
                 lost_work=SqlLostWork(app), callback_for=callback_for,
                 unavailable=(OperationalError,),  # the database is down or unreachable
                 artifacts=artifact_ports(app), retention=retention_ports(app))
