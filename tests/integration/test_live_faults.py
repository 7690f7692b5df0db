"""A live run's worker lost mid-stream, as the caller on the WebSocket sees it: an `error` frame
(worker_lost) and close 1011, never a run started again. On a Redis database of its own, with a
front and a worker of their own (the test kills the worker)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import redis
import sqlalchemy as sa

from tests.support.live_client import LiveClient
from tests.support.polling import wait_until
from tests.support.redis_dbs import spare_database
from tests.support.sandbox_suite import runs_a_jail
from tests.support.workers import stop_worker, wait_for_worker

ROOT = Path(__file__).resolve().parents[2]
SLEEPER = "import time\nprint('ready', flush=True)\ntime.sleep(60)\n"



@pytest.fixture(scope="module")
def faults_env(stack_env):
    from config.settings import broker_url

    redis_url = spare_database(stack_env["REDIS_URL"], 3)
    redis.Redis.from_url(redis_url).flushdb()
    env = {**os.environ, **stack_env, "REDIS_URL": redis_url, "CELERY_BROKER_URL": broker_url(redis_url)}
    env.pop("ANONYMOUS_REQUESTS_PER_MINUTE", None)
    yield env
    redis.Redis.from_url(redis_url).flushdb()


@pytest.fixture(scope="module")
def faults_front(app, faults_env, tmp_path_factory):
    from app.cli.front import Front, FrontSettings, with_free_port

    settings = with_free_port(FrontSettings.from_env({**faults_env, "HOST": "127.0.0.1"}))
    served = Front(settings, tmp_path_factory.mktemp("faults-front"), faults_env).start()
    yield served
    served.stop()


@pytest.fixture
def faults_worker(faults_env, tmp_path):
    """A worker of its own, in a session of its own (the test may kill all of it)."""
    name = f"faults-{os.getpid()}-{time.monotonic_ns()}@{os.uname().nodename}"
    log = tmp_path / "worker.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("celery")), "-A", "worker:celery", "worker", "-c", "2",
             "-Q", "lang.python", "-n", name, "--loglevel", "INFO", "--without-mingle", "--without-gossip"],
            cwd=ROOT, env={**faults_env, "CODESTUDIO_WORKER_KINDS": "interactive"}, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_worker(redis.Redis.from_url(faults_env["REDIS_URL"]), name, proc, log)
        yield proc
    finally:
        if proc.poll() is None:
            stop_worker(proc)


def row_of(app, execution_id: str) -> tuple[str, int, int]:
    """(status, attempts, usage records) of the execution."""
    from app.extensions import db
    from app.models import Execution, UsageRecord

    with app.app_context():
        row = db.session.get_one(Execution, execution_id)
        usage = db.session.execute(sa.select(sa.func.count()).where(
            UsageRecord.execution_id == execution_id)).scalar_one()
        found = (row.status, row.attempts, usage)
        db.session.remove()
        return found


def jailing(worker: subprocess.Popen) -> psutil.Process | None:
    return next((child for child in psutil.Process(worker.pid).children() if runs_a_jail(child)), None)


def test_a_pool_process_killed_mid_stream_ends_the_run_once_and_tells_the_caller(app, faults_front, faults_worker,
                                                                                   user):
    client = LiveClient(faults_front, key=user["key"])
    execution_id = client.start("python", SLEEPER)
    client.until_output("ready")
    os.kill(wait_until(lambda: jailing(faults_worker), 10).pid, signal.SIGKILL)
    last, code = client.finish(timeout=60)
    assert last["type"] == "error" and last["code"] == "worker_lost", last
    assert code == 1011
    wait_until(lambda: row_of(app, execution_id)[0] == "internal_error", 60, interval=0.2,
               what="the run to end internal_error")
    time.sleep(1)
    status, attempts, usage = row_of(app, execution_id)
    assert (status, usage) == ("internal_error", 1) and attempts <= 2


def test_a_worker_gone_whole_is_noticed_by_its_heartbeat(app, faults_front, faults_worker, user):
    client = LiveClient(faults_front, key=user["key"])
    execution_id = client.start("python", SLEEPER)
    client.until_output("ready")
    killed = time.monotonic()
    os.killpg(faults_worker.pid, signal.SIGKILL)  # the worker and its pool: nothing is delivered again
    last, code = client.finish(timeout=30)
    assert last["type"] == "error" and last["code"] == "worker_lost", last
    assert last["execution_id"] == execution_id
    assert code == 1011
    assert time.monotonic() - killed < 7  # the heartbeat key expires (4 s), the next quiet second sees it
    for process in psutil.process_iter(["cmdline"]):  # its jail does not outlive it by long
        if execution_id in " ".join(process.info["cmdline"] or ()):
            process.kill()
