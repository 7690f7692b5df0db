"""The worker's end of a live run's wire (tasks/live_relay.py) against a real Redis: the test plays
the API process's part on the streams and keys of tasks/live_channel.py."""
from __future__ import annotations

import threading
import time
import uuid

import pytest
import redis

from sandbox.live import EndOfInput, Input, Output, Resize, SendSignal, Stage, StageEnded, StageStarted, Stop, Stream
from tasks import live_channel as channel
from tasks.live_relay import CALLER_GONE, RedisLiveSession, live_redis


@pytest.fixture
def client(stack_env) -> redis.Redis:
    return live_redis(stack_env["REDIS_URL"])


@pytest.fixture
def execution_id(client):
    execution_id = uuid.uuid4().hex
    client.set(channel.client_key(execution_id), "1", ex=channel.HEARTBEAT_TTL_SECONDS)
    yield execution_id
    client.delete(*(key(execution_id) for key in (channel.out_key, channel.in_key, channel.client_key,
                                                    channel.worker_key)))


def out_events(client, execution_id) -> list[dict]:
    return [channel.event_of(fields) for _, fields in client.xrange(channel.out_key(execution_id))]


def to_worker(client, execution_id, event) -> None:
    client.xadd(channel.in_key(execution_id), channel.entry(channel.encode_client_event(event)))


def test_what_the_run_reports_goes_out_numbered_from_one_and_finished_ends_it(client, execution_id):
    session = RedisLiveSession.open(client, execution_id)
    try:
        assert client.exists(channel.worker_key(execution_id))
        assert client.ttl(channel.worker_key(execution_id)) <= channel.HEARTBEAT_TTL_SECONDS
        session.send(StageStarted(Stage.RUN))
        session.send(Output(Stream.STDOUT, "h\u00e9llo\n"))
        session.send(Output(Stream.STDERR, "oops"))
        session.send(StageEnded(Stage.RUN, "success", 0, None))
        assert 0 < client.ttl(channel.out_key(execution_id)) <= 900  # bounded even if the worker dies now
    finally:
        session.finish("success")
    assert out_events(client, execution_id) == [
        {"type": "stage", "stage": "run", "state": "start", "seq": 1},
        {"type": "stdout", "data": "h\u00e9llo\n", "seq": 2},
        {"type": "stderr", "data": "oops", "seq": 3},
        {"type": "stage", "stage": "run", "state": "end", "status": "success", "returncode": 0, "signal": None,
         "seq": 4},
        {"type": "finished", "status": "success", "seq": 5},
    ]
    assert not client.exists(channel.worker_key(execution_id))
    assert 0 < client.ttl(channel.out_key(execution_id)) <= channel.STREAM_TTL_SECONDS


def test_the_worker_heartbeat_is_kept_while_the_run_is_quiet(client, execution_id):
    session = RedisLiveSession.open(client, execution_id)
    try:
        deadline = time.monotonic() + channel.HEARTBEAT_TTL_SECONDS + 1.5
        while time.monotonic() < deadline:  # nothing sent or received meanwhile (a long compile)
            assert client.exists(channel.worker_key(execution_id))
            time.sleep(0.2)
    finally:
        session.fail("internal_error", "test over")
    assert not client.exists(channel.worker_key(execution_id))
    assert out_events(client, execution_id)[-1] == {"type": "error", "code": "internal_error",
                                                     "detail": "test over", "seq": 1}


def test_events_sent_before_the_worker_began_are_received_in_order_one_at_a_time(client, execution_id):
    sent = [Input(b"early\n"), Resize(100, 30), SendSignal("INT"), Input(b"\x00\xff"), EndOfInput(),
            Stop("the caller stopped it")]
    for event in sent:
        to_worker(client, execution_id, event)
    session = RedisLiveSession.open(client, execution_id)
    try:
        assert [session.receive(0.1) for _ in sent] == sent
        started = time.monotonic()
        assert session.receive(0.2) is None
        assert 0.15 < time.monotonic() - started < 1.0  # it waited as long as it was told, no more
        to_worker(client, execution_id, Input(b"later"))
        assert session.receive(0.5) == Input(b"later")
    finally:
        session.finish("success")


def test_input_wakes_a_waiting_receive_at_once(client, execution_id):
    session = RedisLiveSession.open(client, execution_id)
    try:
        assert session.receive(0.05) is None
        threading.Timer(0.2, lambda: to_worker(client, execution_id, Input(b"x"))).start()
        started = time.monotonic()
        assert session.receive(2.0) == Input(b"x")
        assert time.monotonic() - started < 0.5
    finally:
        session.finish("success")


def test_the_caller_gone_is_a_stop_within_a_second(client, execution_id):
    session = RedisLiveSession.open(client, execution_id)
    try:
        assert session.receive(0.1) is None
        client.delete(channel.client_key(execution_id))
        started = time.monotonic()
        while (event := session.receive(0.1)) is None:
            assert time.monotonic() - started < 1.0
        assert event == Stop(CALLER_GONE)
        assert session.receive(0.1) == Stop(CALLER_GONE)  # and it stays gone
    finally:
        session.finish("stopped")


def test_a_session_taking_over_a_lost_run_numbers_on_from_the_last_event(client, execution_id):
    first = RedisLiveSession.open(client, execution_id)
    first.send(StageStarted(Stage.RUN))
    first.send(Output(Stream.STDOUT, "a"))
    first._heartbeat.stop()  # the worker dies: its heartbeat stops, nothing closes the session
    RedisLiveSession.resume(client, execution_id).fail("worker_lost", "lost")
    assert [event["seq"] for event in out_events(client, execution_id)] == [1, 2, 3]
    assert out_events(client, execution_id)[-1]["code"] == "worker_lost"


def test_the_out_stream_is_capped(client, execution_id):
    session = RedisLiveSession.open(client, execution_id)
    try:
        for index in range(channel.OUT_MAXLEN * 2):
            session.send(Output(Stream.STDOUT, str(index)))
    finally:
        session.finish("success")
    length = client.xlen(channel.out_key(execution_id))
    assert channel.OUT_MAXLEN <= length < channel.OUT_MAXLEN * 1.2  # approximate trimming
    assert out_events(client, execution_id)[-1]["seq"] == channel.OUT_MAXLEN * 2 + 1


def test_a_lost_redis_raises_within_seconds_instead_of_hanging(tmp_path):
    dead = live_redis(f"unix://{tmp_path}/nobody.sock")
    session = RedisLiveSession(dead, uuid.uuid4().hex)
    started = time.monotonic()
    with pytest.raises(redis.exceptions.ConnectionError):
        session.send(Output(Stream.STDOUT, "x"))
    with pytest.raises(redis.exceptions.ConnectionError):
        session.receive(0.1)
    session.fail("internal_error", "no Redis")  # best effort: it does not raise
    assert time.monotonic() - started < 10
