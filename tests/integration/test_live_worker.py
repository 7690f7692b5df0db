"""Live runs through a real worker, without the WebSocket API: the test submits a live execution
as the API does and plays the API process's part on the Redis wire (tests/support/live_caller.py).
This is the contract between the worker and the API (tasks/live_channel.py)."""
from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
import sqlalchemy as sa

from sandbox.live import EndOfInput, Input
from tasks import live_channel as channel
from tests.support.live_caller import Caller, submit_live
from tests.support.polling import wait_until
from tests.support.redis_dbs import spare_database
from tests.support.sandbox_suite import runs_a_jail
from tests.support.workers import stop_worker, wait_for_worker

ROOT = Path(__file__).resolve().parents[2]
WORKER_PROCESSES = 20  # every concurrent live run holds a pool process
IDLE_SECONDS = 10  # the worker's LIVE_IDLE_SECONDS



@pytest.fixture(scope="module")
def live_api(app, stack_env, tmp_path_factory):
    """An API app and a Python worker of WORKER_PROCESSES processes on a Redis database of their
    own (its broker too: the session's worker takes none of these runs)."""
    from app import create_app
    from app.extensions import db
    from config.settings import broker_url

    redis_url = spare_database(stack_env["REDIS_URL"], 2)
    api = create_app({"TESTING": True, "REDIS_URL": redis_url, "CELERY_BROKER_URL": broker_url(redis_url)})
    api.extensions["redis"].flushdb()
    name = f"live-{os.getpid()}@{os.uname().nodename}"
    log = tmp_path_factory.mktemp("live-worker") / "worker.log"
    env = {**os.environ, **stack_env, "REDIS_URL": redis_url, "CODESTUDIO_WORKER_KINDS": "interactive",
           "LIVE_IDLE_SECONDS": str(IDLE_SECONDS)}
    env.pop("CELERY_BROKER_URL", None)
    with open(log, "w") as out:
        worker = subprocess.Popen(
            [str(Path(sys.executable).with_name("celery")), "-A", "worker:celery", "worker",
             "-c", str(WORKER_PROCESSES), "-Q", "lang.python", "-n", name, "--loglevel", "INFO",
             "--without-mingle", "--without-gossip"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_worker(api.extensions["redis"], name, worker, log)
        yield {"app": api, "redis": api.extensions["redis"], "worker": worker, "log": log}
    finally:
        stop_worker(worker, grace=60)
        api.extensions["redis"].flushdb()
        with api.app_context():
            db.engine.dispose()
        create_app({"TESTING": True})  # the rate limiter's storage is module-wide: back to the session's Redis
        app.extensions["celery"].set_default()


@pytest.fixture
def start(live_api, user):
    """start(code, tty=False, user_id=None) -> a connected Caller of a new live run."""
    callers: list[Caller] = []

    def start_run(code: str, tty: bool = False, user_id: int | None = None, **request) -> Caller:
        execution_id = submit_live(live_api["app"], user_id or user["id"], code, tty=tty, **request)
        callers.append(Caller(live_api["redis"], execution_id))
        return callers[-1]
    yield start_run
    for caller in callers:
        caller.leave()


def row_of(live_api, execution_id: str) -> dict:
    """The execution's row and how many usage records it has."""
    from app.extensions import db
    from app.models import Execution, UsageRecord

    with live_api["app"].app_context():
        row = db.session.get_one(Execution, execution_id)
        usage = db.session.execute(sa.select(sa.func.count()).where(
            UsageRecord.execution_id == execution_id)).scalar_one()
        return {"status": row.status, "stdout": row.stdout, "stderr": row.stderr, "message": row.message,
                "attempts": row.attempts, "live": row.live, "usage": usage}


def assert_numbered(events: list[dict]) -> None:
    """Every event the worker sent, numbered one after another from 1."""
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1)), events


ASK_NAME = """import os
print("tty", os.isatty(0), os.isatty(1))
name = input("Name: ")
print("hi", name)
"""


def test_python_input_is_answered_on_pipes(start, live_api):
    caller = start(ASK_NAME)
    caller.send(Input(b"Ada\n"))  # before the worker has even claimed it: kept for it
    assert caller.last() == {"type": "finished", "status": "success", "seq": len(caller.events)}
    assert_numbered(caller.events)
    assert [event for event in caller.events if event["type"] == "stage"] == [
        {"type": "stage", "stage": "run", "state": "start", "seq": 1},
        {"type": "stage", "stage": "run", "state": "end", "status": "success", "returncode": 0, "signal": None,
         "seq": len(caller.events) - 1}]
    assert caller.text() == "tty False False\nName: hi Ada\n"
    row = row_of(live_api, caller.execution_id)
    assert (row["status"], row["stdout"], row["usage"], row["attempts"]) == \
        ("success", "tty False False\nName: hi Ada\n", 1, 1)
    assert row["live"] == {"tty": False, "cols": 80, "rows": 24}
    assert not live_api["redis"].exists(channel.worker_key(caller.execution_id))
    assert 0 < live_api["redis"].ttl(channel.out_key(caller.execution_id)) <= channel.STREAM_TTL_SECONDS


def test_python_input_is_answered_on_a_terminal(start, live_api):
    caller = start(ASK_NAME, tty=True)
    assert "tty True True\r\nName: " in caller.text_until("Name: ")  # the prompt, before any input
    caller.send(Input(b"Ada\r"))  # what a terminal sends for Enter
    assert caller.last()["status"] == "success"
    assert caller.text() == "tty True True\r\nName: Ada\r\nhi Ada\r\n"  # the terminal echoes the answer
    assert not [event for event in caller.events if event["type"] in ("stdout", "stderr")]
    row = row_of(live_api, caller.execution_id)
    assert (row["status"], row["stdout"], row["usage"]) == ("success", "tty True True\nName: Ada\nhi Ada\n", 1)


def test_output_arrives_as_it_is_printed(start):
    caller = start("import time\nprint('first', flush=True)\ntime.sleep(1)\nprint('second')\n")
    caller.text_until("first")
    first = caller.arrived[-1]
    assert "second" not in caller.text()
    caller.last()
    ended = caller.arrived[next(index for index, event in enumerate(caller.events)
                                if event["type"] == "stage" and event["state"] == "end")]
    assert caller.text() == "first\nsecond\n"
    assert ended - first > 0.8  # the first line came about a second before the end


def test_a_caller_gone_ends_the_run_within_a_second(start, live_api):
    caller = start("import time\nprint('ready', flush=True)\ntime.sleep(60)\n")
    caller.text_until("ready")
    caller.leave()
    client_key = channel.client_key(caller.execution_id)
    wait_until(lambda: not live_api["redis"].exists(client_key), channel.HEARTBEAT_TTL_SECONDS + 2, interval=0.01)
    gone = time.monotonic()
    end = caller.until(lambda event: event["type"] == "stage" and event["state"] == "end", 10)
    took = caller.arrived[caller.events.index(end)] - gone
    print(f"\nthe caller's heartbeat gone -> the run's end reported: {took * 1e3:.0f} ms")
    assert took < 1.5
    assert caller.last(5) == {"type": "finished", "status": "stopped", "seq": end["seq"] + 1}
    row = row_of(live_api, caller.execution_id)
    assert (row["status"], row["message"], row["stdout"], row["usage"], row["attempts"]) == \
        ("stopped", "stopped: the caller disconnected", "ready\n", 1, 1)
    time.sleep(1)  # nothing records it again
    assert row_of(live_api, caller.execution_id) == row


def test_the_idle_limit_comes_from_the_configuration(start, live_api):
    caller = start("import time\nprint('ready', flush=True)\ntime.sleep(60)\n")
    caller.text_until("ready")
    began = caller.arrived[-1]
    assert caller.last(IDLE_SECONDS + 10)["status"] == "timeout"
    assert IDLE_SECONDS - 0.5 < caller.arrived[-1] - began < IDLE_SECONDS + 3
    row = row_of(live_api, caller.execution_id)
    assert row["status"] == "timeout" and f"{IDLE_SECONDS} s" in row["message"], row


def test_a_worker_lost_mid_run_ends_it_internal_error_once(start, live_api):
    """kill -9 of the pool process running a live run: its message is delivered again, and that
    delivery ends the run (it is not started again) and tells the caller. Both what the API
    process can see happen: an `error` event (worker_lost) and the worker heartbeat gone."""
    caller = start("import time\nprint('ready', flush=True)\ntime.sleep(60)\n")
    caller.text_until("ready")

    def jailing() -> psutil.Process | None:
        return next((child for child in psutil.Process(live_api["worker"].pid).children() if runs_a_jail(child)),
                    None)

    os.kill(wait_until(jailing, 10).pid, signal.SIGKILL)
    error = caller.last(60)
    assert error == {"type": "error", "code": "worker_lost",
                     "detail": "a live run is not redelivered: its worker was lost", "seq": error["seq"]}
    assert_numbered(caller.events)  # numbered on from the lost worker's last event
    row = row_of(live_api, caller.execution_id)
    assert (row["status"], row["message"], row["attempts"], row["usage"]) == \
        ("internal_error", "a live run is not redelivered: its worker was lost", 2, 1)
    assert not live_api["redis"].exists(channel.worker_key(caller.execution_id))
    time.sleep(1)
    assert row_of(live_api, caller.execution_id) == row


ECHO = """import os
print("ready", flush=True)
while data := os.read(0, 65536):
    os.write(1, data)
"""


def test_concurrent_live_runs_each_see_only_their_own_output(start, make_user, live_api):
    runs = WORKER_PROCESSES
    everyone_ready = threading.Barrier(runs, timeout=90)  # all running at once: each waits for its input

    def converse(index: int) -> tuple[Caller, str]:
        caller = start(ECHO, user_id=make_user()["id"])
        caller.text_until("ready", 90)
        everyone_ready.wait()
        lines = "".join(f"run {index} line {n}\n" for n in range(5))
        for line in lines.splitlines(keepends=True):
            caller.send(Input(line.encode()))
        caller.send(EndOfInput())
        assert caller.last(60)["status"] == "success"
        return caller, "ready\n" + lines

    with ThreadPoolExecutor(runs) as pool:
        conversations = list(pool.map(converse, range(runs)))
    for caller, expected in conversations:
        assert caller.text() == expected
        assert_numbered(caller.events)
        row = row_of(live_api, caller.execution_id)
        assert (row["status"], row["stdout"], row["usage"]) == ("success", expected, 1)


@pytest.mark.parametrize("tty", [False, True], ids=["pipes", "terminal"])
def test_echo_round_trip_through_redis(start, tty):
    """Input from the API's side of the wire to the program and its output back: p50 over 200
    round trips (printed with -s)."""
    caller = start(ECHO, tty=tty)
    caller.text_until("ready")
    trips = []
    for n in range(200):
        line = f"line {n} end"
        sent = time.monotonic()
        caller.send(Input(line.encode() + b"\n"))
        caller.text_until(f"{line}\r\n{line}\r\n" if tty else f"{line}\n", 10)  # a terminal echoes it too
        trips.append(time.monotonic() - sent)
    caller.send(EndOfInput(), EndOfInput())  # a terminal's ^D ends a read: one for the line, one for the end
    assert caller.last()["status"] == "success"
    p50, p99 = statistics.median(trips), statistics.quantiles(trips, n=100)[98]
    print(f"\necho round trip through Redis ({'terminal' if tty else 'pipes'}): p50 {p50 * 1e3:.2f} ms, "
          f"p99 {p99 * 1e3:.2f} ms")
    assert p50 < 0.05
