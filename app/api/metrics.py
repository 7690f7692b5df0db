"""GET /metrics: Prometheus gauges read at scrape time (valid across API processes)."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Response, current_app
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Gauge,
    generate_latest,
)

from sandbox import ACTIVE_STATUSES, registry
from tasks.routing import batch_queue_for, queue_for

from ..extensions import db
from ..models import BATCH_ACTIVE, Batch, Execution
from ..services.workers import live_workers

bp = Blueprint("metrics", __name__)


@bp.route("/metrics")
def metrics():
    reg = CollectorRegistry()
    depth = Gauge("codestudio_queue_depth", "Messages waiting in a language queue", ["queue"], registry=reg)
    workers = Gauge("codestudio_live_workers", "Live workers serving a language", ["language", "kind"],
                    registry=reg)
    active = Gauge("codestudio_executions_active", "Executions not yet final", ["status"], registry=reg)
    batches = Gauge("codestudio_batches_active", "Batches not yet final", ["status"], registry=reg)
    client = current_app.extensions["redis"]
    for lang in registry():
        for queue, kind in ((queue_for(lang.id), "interactive"), (batch_queue_for(lang.id), "batch")):
            depth.labels(queue).set(client.llen(queue))
            workers.labels(lang.id, kind).set(0)
    for worker in live_workers():
        for field, kind in (("languages", "interactive"), ("batch_languages", "batch")):
            for lang_id in worker.get(field, {}):
                workers.labels(lang_id, kind).inc()
    counts = dict(db.session.execute(
        sa.select(Execution.status, sa.func.count()).where(Execution.status.in_(ACTIVE_STATUSES))
        .group_by(Execution.status)).all())
    for status in ACTIVE_STATUSES:
        active.labels(status).set(counts.get(status, 0))
    counts = dict(db.session.execute(
        sa.select(Batch.status, sa.func.count()).where(Batch.status.in_(BATCH_ACTIVE)).group_by(Batch.status)).all())
    for status in BATCH_ACTIVE:
        batches.labels(status).set(counts.get(status, 0))
    return Response(generate_latest(reg), headers={"Content-Type": CONTENT_TYPE_LATEST})
