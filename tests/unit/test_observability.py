"""Log formatting, credential masking and the histogram arithmetic of the Redis-kept metrics
(no Redis, no database: the integration test covers them on a real stack)."""
from __future__ import annotations

import json
import logging

from app.observability import logs
from tasks import metrics


def record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("codestudio.test", logging.INFO, __file__, 1, message, args, None)


def test_credentials_are_masked_wherever_they_appear():
    key = "cs_" + "A1b2-C3d4_" * 4
    for text in (f"key {key} refused", f"Authorization: Bearer {key}", "Authorization: Basic dXNlcjpwYXNz",
                 f"headers {{'X-API-Key': '{key}'}}", f"x-api-key={key}"):
        masked = logs.redact(text)
        assert key not in masked and "Bearer" not in masked and "dXNlcjpwYXNz" not in masked, masked
        assert logs.REDACTED in masked
    assert logs.redact("execution 5f0c000e finished: success") == "execution 5f0c000e finished: success"


def test_json_line_carries_the_bound_execution_and_masks_keys():
    logs.bind(logs.ExecutionContext("abc123", 7, "python", "running"))
    try:
        one = record("claimed with %s", "Bearer cs_secretsecretsecret")
        logs.ContextFilter().filter(one)
        line = json.loads(logs.JsonFormatter().format(one))
    finally:
        logs.bind(None)
    assert (line["execution_id"], line["user_id"], line["language"], line["status"]) == ("abc123", 7, "python",
                                                                                         "running")
    assert line["level"] == "info" and line["logger"] == "codestudio.test"
    assert "secret" not in line["message"] and "Bearer" not in line["message"]


def test_status_follows_the_execution_and_unbound_lines_carry_none():
    logs.bind(logs.ExecutionContext("abc123", 7, "python", "running"))
    logs.set_status("timeout")
    try:
        assert logs.bound() == logs.ExecutionContext("abc123", 7, "python", "timeout")
    finally:
        logs.bind(None)
    plain = record("worker ready")
    logs.ContextFilter().filter(plain)
    assert "execution_id" not in json.loads(logs.JsonFormatter().format(plain))
    text = logs.TextFormatter().format(plain)
    assert text.endswith("codestudio.test: worker ready")


def test_histogram_buckets_are_cumulated_when_read():
    labels = metrics._field(("python",))
    raw = {f"{labels}|0.1": 2.0, f"{labels}|1.0": 1.0, f"{labels}|+Inf": 1.0, f"{labels}|sum": 400.2}
    [series] = metrics._histograms(metrics.RUN, raw)
    buckets = dict(series.buckets)
    assert buckets["0.05"] == 0 and buckets["0.1"] == 2 and buckets["0.5"] == 2 and buckets["1.0"] == 3
    assert buckets["300.0"] == 3 and buckets["+Inf"] == 4
    assert series.value == 4 and series.total == 400.2 and series.labels == ("python",)


def test_a_value_lands_in_the_first_bucket_that_holds_it():
    assert metrics._bucket_of(metrics.RUN, 0.1) == "0.1"
    assert metrics._bucket_of(metrics.RUN, 0.11) == "0.25"
    assert metrics._bucket_of(metrics.RUN, 1000) == "+Inf"
    assert metrics._bucket_of(metrics.MEMORY, 3 * 1024 * 1024) == repr(4.0 * 1024 * 1024)


def test_a_recorder_that_cannot_reach_redis_pauses_instead_of_waiting_each_time():
    import time

    import redis

    unreachable = redis.Redis(unix_socket_path="/nonexistent/codestudio-metrics.sock", socket_connect_timeout=1)
    recorder = metrics.Recorder(unreachable, pause_seconds=60)
    sample = metrics.Sample(metrics.REFUSALS, ("not_found", "404"), 1)
    recorder.record(sample)  # fails, logged, never raised
    started = time.monotonic()
    for _ in range(100):
        recorder.record(sample)
    assert time.monotonic() - started < 0.05
