"""GET /metrics: the fleet's metrics for Prometheus, the same from every API process.

Counters and histograms come from Redis, where workers and API processes add to them as things
happen (tasks/metrics.py); gauges are read at scrape time from Redis (queues, worker heartbeats,
warm compilers, the runs directory's disk) and from the database (executions and batches not yet
final, live runs running). Nothing is kept in the process: any API process answers alike."""
from __future__ import annotations

import json
from collections.abc import Iterator

import redis
import sqlalchemy as sa
from flask import Blueprint, Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from sandbox import ACTIVE_STATUSES, ExecutionStatus, registry
from tasks import keys, metrics
from tasks.routing import batch_queue_for, queue_for

from ..extensions import db
from ..models import BATCH_ACTIVE, Batch, Execution
from ..services.workers import live_workers

bp = Blueprint("metrics", __name__)
KINDS = (("interactive", queue_for, "languages"), ("batch", batch_queue_for, "batch_languages"))


def recorded(client: redis.Redis) -> Iterator[Metric]:
    """What workers and API processes recorded (tasks/metrics.py)."""
    for metric in metrics.ALL:
        series = metrics.read(client, metric)
        if metric.kind is metrics.Kind.COUNTER:
            counter = CounterMetricFamily(metric.name, metric.help, labels=metric.labels)
            for one in series:
                counter.add_metric(list(one.labels), one.value)
            yield counter
            continue
        histogram = HistogramMetricFamily(metric.name, metric.help, labels=metric.labels)
        for one in series:
            histogram.add_metric(list(one.labels), list(one.buckets), one.total)
        yield histogram


def queues_and_workers(client: redis.Redis) -> Iterator[Metric]:
    depth = GaugeMetricFamily("codestudio_queue_depth", "Messages waiting in a queue (lang.<id> or batch.<id>)",
                              labels=("queue",))
    serving = GaugeMetricFamily("codestudio_live_workers", "Live workers serving a language",
                                labels=("language", "kind"))
    workers = live_workers()
    pipe = client.pipeline(transaction=False)
    for lang in registry():
        for _, queue_of, _ in KINDS:
            pipe.llen(queue_of(lang.id))
    lengths = iter(pipe.execute())
    for lang in registry():
        for kind, queue_of, field in KINDS:
            depth.add_metric([queue_of(lang.id)], next(lengths))
            serving.add_metric([lang.id, kind], sum(lang.id in w.get(field, {}) for w in workers))
    yield depth
    yield serving
    yield from heartbeats(client, [w["hostname"] for w in workers if "hostname" in w])


def heartbeats(client: redis.Redis, hostnames: list[str]) -> Iterator[Metric]:
    up = GaugeMetricFamily("codestudio_worker_up", "1 for each worker whose heartbeat is current", labels=("hostname",))
    age = GaugeMetricFamily("codestudio_worker_heartbeat_age_seconds", "Seconds since a worker's last heartbeat",
                            labels=("hostname",))
    pipe = client.pipeline(transaction=False)
    for hostname in hostnames:
        pipe.ttl(keys.worker_key(hostname))
    for hostname, ttl in zip(hostnames, pipe.execute(), strict=True):
        up.add_metric([hostname], 1)
        age.add_metric([hostname], max(0, keys.HEARTBEAT_TTL_SECONDS - max(ttl, 0)))
    yield up
    yield age


def _reports(client: redis.Redis, prefix: str) -> Iterator[tuple[str, dict]]:
    names = sorted(client.scan_iter(match=prefix + "*", count=200))
    for name, raw in zip(names, client.mget(names) if names else [], strict=True):
        if raw:
            try:
                yield name.decode()[len(prefix):], json.loads(raw)
            except ValueError:
                continue


def worker_reports(client: redis.Redis) -> Iterator[Metric]:
    warm = GaugeMetricFamily("codestudio_warm_compilers", "Idle warm compile jails ready, per language",
                             labels=("language",))
    ready = GaugeMetricFamily("codestudio_ready_run_jails", "Idle run jails started ahead of need, per language",
                              labels=("language",))
    compiling = {lang.id: 0 for lang in registry() if lang.warm_compile}
    running: dict[str, int] = {}
    for _, report in _reports(client, metrics.WARM_PREFIX):
        for counts, kind in ((compiling, "compile"), (running, "run")):
            for lang_id, count in report.get(kind, {}).items():
                counts[lang_id] = counts.get(lang_id, 0) + int(count)
    for family, counts in ((warm, compiling), (ready, running)):
        for lang_id, count in sorted(counts.items()):
            family.add_metric([lang_id], count)
        yield family
    free = GaugeMetricFamily("codestudio_runs_dir_free_bytes", "Free bytes on a worker host's runs directory",
                             labels=("hostname",))
    size = GaugeMetricFamily("codestudio_runs_dir_size_bytes", "Size in bytes of a worker host's runs directory's "
                             "file system", labels=("hostname",))
    for hostname, report in _reports(client, metrics.HOST_PREFIX):
        free.add_metric([hostname], report.get("runs_dir_free_bytes", 0))
        size.add_metric([hostname], report.get("runs_dir_size_bytes", 0))
    yield free
    yield size


def database() -> Iterator[Metric]:
    active = GaugeMetricFamily("codestudio_executions_active", "Executions not yet final", labels=("status",))
    counts = dict(db.session.execute(
        sa.select(Execution.status, sa.func.count()).where(Execution.status.in_(ACTIVE_STATUSES))
        .group_by(Execution.status)).all())
    for status in ACTIVE_STATUSES:
        active.add_metric([status], counts.get(status, 0))
    yield active
    batches = GaugeMetricFamily("codestudio_batches_active", "Batches not yet final", labels=("status",))
    batch_counts = dict(db.session.execute(
        sa.select(Batch.status, sa.func.count()).where(Batch.status.in_(BATCH_ACTIVE)).group_by(Batch.status)).all())
    for batch_status in BATCH_ACTIVE:
        batches.add_metric([batch_status], batch_counts.get(batch_status, 0))
    yield batches
    live = GaugeMetricFamily("codestudio_live_runs_running", "Live runs running now", labels=("language",))
    running = dict(db.session.execute(
        sa.select(Execution.language, sa.func.count())
        .where(Execution.status == ExecutionStatus.RUNNING, Execution.live.is_not(None))
        .group_by(Execution.language)).all())
    for lang in registry():
        live.add_metric([lang.id], running.get(lang.id, 0))
    yield live


class Snapshot:
    """A collector whose families were read once, for one scrape."""

    def __init__(self, families: list[Metric]):
        self.families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


@bp.route("/metrics")
def scrape():
    client = current_app.extensions["redis"]
    families = [*recorded(client), *queues_and_workers(client), *worker_reports(client), *database()]
    reg = CollectorRegistry(auto_describe=False)
    reg.register(Snapshot(families))
    return Response(generate_latest(reg), headers={"Content-Type": CONTENT_TYPE_LATEST})
