"""Code Studio API: application factory."""
from __future__ import annotations

import os

import redis
from flask import Flask
from flask.json.provider import DefaultJSONProvider
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from config.settings import check_production, from_env

from .celery import celery_init_app
from .errors import register_error_handlers
from .extensions import db, migrate, openapi
from .observability import init_api, init_worker

MIGRATIONS_DIR = os.path.join(os.path.dirname(__file__), "migrations")


class UnsortedJSON(DefaultJSONProvider):
    sort_keys = False  # keys in the order the code gives them (schemas, Judge0's and Piston's bodies)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    # API and workers share the SQLite file: WAL lets readers and one writer coexist
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # WAL: durable at checkpoints, never corrupt
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def create_worker_app(test_config: dict | None = None) -> Flask:
    """What the worker needs (`worker.py`): configuration, the database, Redis, Celery and the
    stores its tasks use; none of the API's blueprints, rate limiter or OpenAPI document."""
    app = Flask(__name__, instance_path=os.environ.get("CODESTUDIO_INSTANCE") or None,
                instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(from_env(app.instance_path))
    if test_config:
        app.config.update(test_config)
    check_production(app.config)
    app.json = UnsortedJSON(app)
    db.init_app(app)
    # waited requests block in BLPOP up to the wait cap: the socket timeout must outlast it
    app.extensions["redis"] = redis.Redis.from_url(
        app.config["REDIS_URL"], socket_timeout=app.config["RUN_WAIT_CAP_SECONDS"] + 10,
        socket_connect_timeout=3, health_check_interval=30)
    celery_init_app(app)
    init_worker(app)  # log format, and metrics of the executions the stores record
    return app


def create_app(test_config: dict | None = None) -> Flask:
    """The API (`wsgi.py`): the worker's base plus the HTTP layer and the command line."""
    app = create_worker_app(test_config)
    if app.config["PROXY_HOPS"]:  # the client's address as the trusted front saw it
        # Flask's documented way to add WSGI middleware; Flask types wsgi_app as a method
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=app.config["PROXY_HOPS"], x_proto=app.config["PROXY_HOPS"])
    migrate.init_app(app, db, directory=MIGRATIONS_DIR)
    from .api.live_doc import DESCRIPTION  # the live-run protocols, which the paths cannot describe

    app.config["API_SPEC_OPTIONS"] = {**app.config["API_SPEC_OPTIONS"], "info": {"description": DESCRIPTION}}
    openapi.init_app(app)

    from .api import artifacts, batch, live, metrics, projects, runs, stats, system
    from .compat import judge0, judge0_info, piston, piston_connect
    from .ratelimit import init_rate_limits

    init_rate_limits(app, (runs.bp, projects.bp, stats.bp, batch.bp, live.bp, piston_connect.bp, artifacts.bp))
    for module in (runs, projects, stats, batch, system, artifacts):
        openapi.register_blueprint(module.bp)
    live.init_live(app)
    app.register_blueprint(live.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(piston.bp)
    app.register_blueprint(piston_connect.bp)
    for blueprint in (judge0.bp, judge0_info.info_bp):  # Judge0 clients: under /judge0, optionally at /
        app.register_blueprint(blueprint, url_prefix="/judge0")
        if app.config.get("JUDGE0_AT_ROOT"):
            app.register_blueprint(blueprint, url_prefix="", name=f"{blueprint.name}_root")
    from .web import bp as studio_bp  # the studio at / (a client of the API above)
    app.register_blueprint(studio_bp)
    register_error_handlers(app)
    init_api(app)

    from .cli import register_commands
    register_commands(app)
    return app
