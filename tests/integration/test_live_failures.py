"""How a claimed live run ends when something fails (tasks/live.py), against a real Redis with a
store in memory: it is recorded failed once, and a caller still connected is told, never left
waiting. The runs themselves are faked: what matters is what reaches the store and the wire."""
from __future__ import annotations

import uuid

import pytest
import redis

from sandbox import ExecutionStatus, RunResult
from sandbox.live import LiveSession, Output, Stream
from tasks import live_channel as channel
from tasks.live import WORKER_LOST, LiveWorker, execute_live
from tasks.live_relay import live_redis
from tasks.ports import ClaimedRun, LiveOptions, Outcome


class MemoryStore:
    def __init__(self, finish_raises: Exception | None = None, fail_raises: Exception | None = None):
        self.finished: list[Outcome] = []
        self.failed: list[str] = []
        self.finish_raises, self.fail_raises = finish_raises, fail_raises

    def claim(self, *args: object) -> None:
        raise AssertionError("claimed already")

    def finish(self, claim: ClaimedRun, outcome: Outcome) -> bool:
        if self.finish_raises:
            raise self.finish_raises
        self.finished.append(outcome)
        return True

    def fail(self, execution_id: str, message: str) -> None:
        if self.fail_raises:
            raise self.fail_raises
        self.failed.append(message)


def claim_of(execution_id: str, attempt: int = 1) -> ClaimedRun:
    return ClaimedRun(execution_id=execution_id, attempt=attempt, user_id=1, tier="pro", language="python",
                      code="print(1)", stdin=b"", args=(), files=(), timeout=5, memory_mb=128,
                      live=LiveOptions(tty=True, cols=100, rows=30))


class FakeRunner:
    """Stands in for the sandbox's Runner: run_live calls runner.run(spec, stages)."""


@pytest.fixture
def wire(stack_env, monkeypatch):
    client = live_redis(stack_env["REDIS_URL"])
    execution_id = uuid.uuid4().hex
    client.set(channel.client_key(execution_id), "1", ex=channel.HEARTBEAT_TTL_SECONDS)
    yield client, execution_id
    client.delete(*(key(execution_id) for key in (channel.out_key, channel.in_key, channel.client_key,
                                                    channel.worker_key)))


def fake_run_live(monkeypatch, run) -> list[tuple]:
    """tasks.live's run_live replaced by `run(session)`; returns the calls' other arguments."""
    calls: list[tuple] = []

    def run_live(runner, spec, session: LiveSession, terminal, limits) -> RunResult:
        calls.append((spec, terminal, limits))
        return run(session)

    monkeypatch.setattr("tasks.live.run_live", run_live)
    return calls


def worker_of(client: redis.Redis, store: MemoryStore) -> LiveWorker:
    return LiveWorker(store=store, channel=client, runner=FakeRunner, spec_for=lambda claim: claim.code,
                      idle_seconds=7.0)


def out_events(client, execution_id) -> list[dict]:
    return [channel.event_of(fields) for _, fields in client.xrange(channel.out_key(execution_id))]


def test_a_run_is_recorded_then_the_caller_told_it_finished(wire, monkeypatch):
    client, execution_id = wire

    def run(session: LiveSession) -> RunResult:
        assert client.exists(channel.worker_key(execution_id))  # the worker heartbeat is up while it runs
        session.send(Output(Stream.OUTPUT, "1\r\n"))
        return RunResult(status=ExecutionStatus.SUCCESS, stdout="1\n", returncode=0)

    calls = fake_run_live(monkeypatch, run)
    store = MemoryStore()
    assert execute_live(claim_of(execution_id), worker_of(client, store)) == ExecutionStatus.SUCCESS
    [(spec, terminal, limits)] = calls
    assert (spec, terminal.cols, terminal.rows, limits.idle_seconds) == ("print(1)", 100, 30, 7.0)
    assert [outcome.result.stdout for outcome in store.finished] == ["1\n"] and not store.failed
    assert out_events(client, execution_id) == [{"type": "output", "data": "1\r\n", "seq": 1},
                                                {"type": "finished", "status": "success", "seq": 2}]
    assert not client.exists(channel.worker_key(execution_id))


def test_a_redelivered_live_run_is_not_run_again(wire, monkeypatch):
    client, execution_id = wire
    calls = fake_run_live(monkeypatch, lambda session: pytest.fail("a redelivered live run ran again"))
    store = MemoryStore()
    assert execute_live(claim_of(execution_id, attempt=2), worker_of(client, store)) == ExecutionStatus.INTERNAL_ERROR
    assert (calls, store.failed, store.finished) == ([], [WORKER_LOST], [])
    assert out_events(client, execution_id) == [{"type": "error", "code": "worker_lost", "detail": WORKER_LOST,
                                                 "seq": 1}]


@pytest.mark.parametrize("failure", ["sandbox", "store"])
def test_a_failure_once_claimed_ends_it_internal_error_and_tells_the_caller(wire, monkeypatch, failure):
    client, execution_id = wire

    def run(session: LiveSession) -> RunResult:
        session.send(Output(Stream.STDOUT, "partial"))
        if failure == "sandbox":
            raise RuntimeError("a bug")
        return RunResult(status=ExecutionStatus.SUCCESS)

    fake_run_live(monkeypatch, run)
    store = MemoryStore(finish_raises=ConnectionError("database gone") if failure == "store" else None)
    assert execute_live(claim_of(execution_id), worker_of(client, store)) == ExecutionStatus.INTERNAL_ERROR
    name = "RuntimeError" if failure == "sandbox" else "ConnectionError"
    assert store.failed == [f"internal error: {name}"] and not store.finished
    assert out_events(client, execution_id)[-1] == {"type": "error", "code": "internal_error",
                                                    "detail": f"internal error: {name}", "seq": 2}
    assert not client.exists(channel.worker_key(execution_id))


def test_the_caller_is_told_even_when_the_failure_cannot_be_recorded(wire, monkeypatch):
    """The store is down: the task's retry (or recovery) ends the run later; the caller hears now."""
    client, execution_id = wire
    def run(session: LiveSession) -> RunResult:
        raise RuntimeError("a bug")

    fake_run_live(monkeypatch, run)
    down = ConnectionError("database gone")
    with pytest.raises(ConnectionError):
        execute_live(claim_of(execution_id), worker_of(client, MemoryStore(fail_raises=down)))
    assert out_events(client, execution_id)[-1]["code"] == "internal_error"


def test_without_redis_nothing_runs_and_it_ends_internal_error(tmp_path, monkeypatch):
    calls = fake_run_live(monkeypatch, lambda session: pytest.fail("ran without a channel to its caller"))
    store = MemoryStore()
    dead = live_redis(f"unix://{tmp_path}/nobody.sock")
    assert execute_live(claim_of(uuid.uuid4().hex), worker_of(dead, store)) == ExecutionStatus.INTERNAL_ERROR
    assert calls == [] and len(store.failed) == 1
    assert store.failed[0].startswith("infrastructure error: the live channel is unavailable")


def test_a_channel_lost_mid_run_ends_it_as_an_infrastructure_error(wire, monkeypatch):
    """The sandbox ends a run whose caller's events cannot be read (as if it had left); that is
    the channel's failure, not the caller's: not billed as a stopped run."""
    client, execution_id = wire

    def unreachable(*args: object, **kwargs: object) -> None:
        raise redis.exceptions.ConnectionError("Redis went away")

    def run(session: LiveSession) -> RunResult:
        with monkeypatch.context() as patched, pytest.raises(redis.exceptions.ConnectionError):
            patched.setattr(client, "xread", unreachable)
            session.receive(0.1)  # the sandbox's reader takes this for a Stop, and the run ends stopped
        return RunResult(status=ExecutionStatus.STOPPED, message="stopped: the caller's channel failed")

    fake_run_live(monkeypatch, run)
    store = MemoryStore()
    assert execute_live(claim_of(execution_id), worker_of(client, store)) == ExecutionStatus.INTERNAL_ERROR
    assert store.failed == ["infrastructure error: the live channel failed: Redis went away"] and not store.finished
    assert out_events(client, execution_id)[-1]["code"] == "internal_error"
