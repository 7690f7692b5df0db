"""The SQL implementations of the worker's ports (tasks/ports.py), built together: `sql_ports`."""
from __future__ import annotations

from flask import Flask
from sqlalchemy.exc import OperationalError

from tasks.ports import Ports

from ..compat.judge0_callbacks import callback_for, wants_callback
from .batches import SqlBatchStore
from .executions import SqlExecutionStore
from .lost_work import SqlLostWork

__all__ = ["SqlBatchStore", "SqlExecutionStore", "SqlLostWork", "sql_ports"]


def sql_ports(app: Flask) -> Ports:
    return Ports(executions=SqlExecutionStore(callback_wanted=wants_callback), batches=SqlBatchStore(),
                 lost_work=SqlLostWork(app), callback_for=callback_for,
                 unavailable=(OperationalError,))  # the database is down or unreachable
