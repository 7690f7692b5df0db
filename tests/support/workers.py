"""A real Celery worker process for a test: started with the stack's environment, ready once it
advertises itself in Redis, stopped afterwards."""
from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from tests.support.polling import wait_until

ROOT = Path(__file__).resolve().parents[2]


def wait_for_worker(client, name: str, proc: subprocess.Popen, log: Path, seconds: float = 60) -> None:
    """Until the worker `name` advertises itself in Redis (`client`); fails at once, with its log,
    if it exits."""
    from tasks import keys

    def advertised() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited ({proc.returncode}):\n{log.read_text()[-4000:]}")
        return bool(client.exists(keys.worker_key(name)))

    wait_until(advertised, seconds, interval=0.2,
               what=lambda: f"worker {name} advertising:\n{log.read_text()[-4000:]}")


def worker_process(app, stack_env, log: Path, name: str, kinds: str, processes: int = 2):
    """A real Celery worker process (prefork, `processes` processes) consuming the queues of `kinds`
    (a generator: yields the worker, stops it when resumed)."""
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("celery")), "-A", "worker:celery", "worker", "-E", "-c", str(processes),
             "-n", name, "--loglevel", "INFO", "--without-mingle", "--without-gossip"],
            cwd=ROOT, env={**os.environ, **stack_env, "CODESTUDIO_WORKER_KINDS": kinds},
            stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        wait_for_worker(app.extensions["redis"], name, proc, log, seconds=60 + 3 * processes)  # each boots
        yield {"name": name, "proc": proc, "log": log}
    finally:
        stop_worker(proc)


def stop_worker(proc: subprocess.Popen, grace: float = 40) -> None:
    """A warm shutdown (running tasks end), a kill after `grace` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()


@contextmanager
def isolated_worker(api, env: dict, log: Path, name: str, kinds: str, processes: int = 2):
    """A real worker (`processes` processes) with `env` over the session's; `api` must share its Redis."""
    yield from worker_process(api, env, log, f"{name}-{os.getpid()}@{os.uname().nodename}", kinds, processes)


def idle(app, worker: dict, queue: str) -> bool:
    """Whether `queue` is empty and the worker has no task running or prefetched: every message sent
    to it so far has been handled."""
    if app.extensions["redis"].llen(queue):
        return False
    inspect = app.extensions["celery"].control.inspect(destination=[worker["name"]], timeout=1, limit=1)
    active, reserved = inspect.active(), inspect.reserved()
    return bool(active and reserved) and active.get(worker["name"]) == reserved.get(worker["name"]) == []
