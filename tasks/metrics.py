"""Fleet-wide Prometheus metrics kept in Redis.

Counters and histograms are written where the event happens (a worker's pool process finishing an
execution, an API process refusing a request) with one pipelined HINCRBY per sample into a hash
per metric, and read back by any API process's `GET /metrics`. So every API process answers the
same numbers, a worker host that is scaled away keeps its counts, and no worker host needs a port
of its own for Prometheus (docs/observability.md says why this was chosen over multiprocess mode).

Histogram buckets are stored per bucket (not cumulative) and cumulated when read."""
from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum

import redis

log = logging.getLogger(__name__)

PREFIX = "codestudio:metrics:"
# per-process and per-host gauges: keys that expire unless their writer renews them
WARM_PREFIX = "codestudio:metrics-warm:"
HOST_PREFIX = "codestudio:metrics-host:"


class Kind(StrEnum):
    COUNTER = "counter"
    HISTOGRAM = "histogram"


SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
MIB = 1024 * 1024
BYTES = tuple(float(n * MIB) for n in (1, 4, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096))


@dataclass(frozen=True)
class Metric:
    name: str  # the exposition name, without _total for counters
    kind: Kind
    help: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...] = ()

    @property
    def key(self) -> str:
        return PREFIX + self.name


EXECUTIONS = Metric("codestudio_executions", Kind.COUNTER, "Executions recorded final, by language and status",
                    ("language", "status"))
QUEUE_WAIT = Metric("codestudio_queue_wait_seconds", Kind.HISTOGRAM,
                    "Time from an execution's creation to its first claim by a worker", ("language",), SECONDS)
SETUP = Metric("codestudio_sandbox_setup_seconds", Kind.HISTOGRAM,
               "Worker time on an execution outside the program's own compile and run wall time "
               "(jails, work dirs, cgroups, teardown, keeping artifacts)", ("language",), SECONDS)
RUN = Metric("codestudio_run_seconds", Kind.HISTOGRAM, "Wall time of an execution's program (the last run)",
             ("language",), SECONDS)
COMPILE = Metric("codestudio_compile_seconds", Kind.HISTOGRAM, "Wall time of an execution's compile stage",
                 ("language",), SECONDS)
MEMORY = Metric("codestudio_run_memory_bytes", Kind.HISTOGRAM, "Peak memory of an execution's program",
                ("language",), BYTES)
REFUSALS = Metric("codestudio_refusals", Kind.COUNTER,
                  "API answers with a 4xx or 5xx status, by their problem code", ("code", "status"))
LIVE_RUNS = Metric("codestudio_live_runs", Kind.COUNTER, "Live runs started by a worker", ("language",))
BATCH_CASES = Metric("codestudio_batch_cases", Kind.COUNTER, "Batch test cases graded and recorded, by verdict",
                     ("language", "verdict"))

ALL: tuple[Metric, ...] = (EXECUTIONS, QUEUE_WAIT, SETUP, RUN, COMPILE, MEMORY, REFUSALS, LIVE_RUNS, BATCH_CASES)


def _field(values: Sequence[str]) -> str:
    return json.dumps(list(values), separators=(",", ":"))


def _bucket_of(metric: Metric, value: float) -> str:
    for bound in metric.buckets:
        if value <= bound:
            return repr(bound)
    return "+Inf"


@dataclass(frozen=True)
class Sample:
    metric: Metric
    labels: tuple[str, ...]
    value: float


class Recorder:
    """Writes samples to Redis; never raises (metrics must not fail a run or a request). After a
    failure it drops samples for a while: an unreachable Redis must not add its connect timeout to
    every answer of an outage."""

    def __init__(self, client: redis.Redis, pause_seconds: float = 5.0):
        self.client, self.pause_seconds = client, pause_seconds
        self._paused_until = 0.0

    def record(self, *samples: Sample) -> None:
        if not samples or time.monotonic() < self._paused_until:
            return
        try:
            pipe = self.client.pipeline(transaction=False)
            for sample in samples:
                self._add(pipe, sample)
            pipe.execute()
        except (redis.exceptions.RedisError, OSError) as exc:
            self._paused_until = time.monotonic() + self.pause_seconds
            log.warning("metrics not recorded (dropping them for %.0f s): %s", self.pause_seconds, exc)

    @staticmethod
    def _add(pipe: redis.client.Pipeline, sample: Sample) -> None:
        metric, labels = sample.metric, _field(sample.labels)
        if len(sample.labels) != len(metric.labels):
            raise ValueError(f"{metric.name} takes labels {metric.labels}")
        if metric.kind is Kind.COUNTER:
            pipe.hincrbyfloat(metric.key, labels, sample.value)
            return
        if math.isnan(sample.value):
            return
        pipe.hincrby(metric.key, f"{labels}|{_bucket_of(metric, sample.value)}", 1)
        pipe.hincrbyfloat(metric.key, f"{labels}|sum", sample.value)


@dataclass(frozen=True)
class Series:
    """One label set of a metric as read back: a counter's value, or a histogram's cumulative
    buckets ((upper bound, count) ending with +Inf), sum and count."""
    labels: tuple[str, ...]
    value: float = 0.0
    buckets: tuple[tuple[str, float], ...] = ()
    total: float = 0.0


def read(client: redis.Redis, metric: Metric) -> list[Series]:
    raw = {_text(k): float(v) for k, v in client.hgetall(metric.key).items()}
    if metric.kind is Kind.COUNTER:
        return [Series(tuple(json.loads(k)), value=v) for k, v in sorted(raw.items())]
    return list(_histograms(metric, raw))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _histograms(metric: Metric, raw: dict[str, float]) -> Iterator[Series]:
    grouped: dict[str, dict[str, float]] = {}
    for field, value in raw.items():
        labels, _, part = field.rpartition("|")
        grouped.setdefault(labels, {})[part] = value
    for labels, parts in sorted(grouped.items()):
        running, buckets = 0.0, []
        for bound in [*(repr(b) for b in metric.buckets), "+Inf"]:
            running += parts.get(bound, 0.0)
            buckets.append((bound, running))
        yield Series(tuple(json.loads(labels)), value=running, buckets=tuple(buckets), total=parts.get("sum", 0.0))
