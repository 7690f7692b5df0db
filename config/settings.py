"""Configuration from the environment. Production is configuration, not code."""
from __future__ import annotations

import os
import sys
import tomllib
from decimal import Decimal
from pathlib import Path

TIERS_FILE = Path(__file__).with_name("tiers.toml")


def database_url(instance_path: str) -> str:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url or f"sqlite:///{os.path.join(instance_path, 'codestudio.db')}"


def redis_url(instance_path: str) -> str:
    """REDIS_URL, or the embedded server's unix socket under the instance folder."""
    return os.environ.get("REDIS_URL") or f"unix://{os.path.join(instance_path, 'redis.sock')}"


def broker_url(redis: str) -> str:
    explicit = os.environ.get("CELERY_BROKER_URL")
    if explicit:
        return explicit
    if redis.startswith("unix://"):  # kombu spells a socket's database number virtual_host
        return "redis+socket://" + redis[len("unix://"):].replace("?db=", "?virtual_host=")
    return redis


def load_tiers(path: Path = TIERS_FILE) -> dict[str, dict]:
    tiers = tomllib.loads(path.read_text())
    for tier in tiers.values():
        tier["per_execution"] = Decimal(tier["per_execution"])
        tier["per_cpu_second"] = Decimal(tier["per_cpu_second"])
    return tiers


def recovery_policy(env) -> dict:
    """How workers find work whose queue message was lost (tasks/recovery.py)."""
    return {"interval": float(env.get("RECOVERY_INTERVAL_SECONDS", 15)),
            "queued_after": float(env.get("RECOVERY_QUEUED_AFTER_SECONDS", 120)),
            "running_grace": float(env.get("RECOVERY_RUNNING_GRACE_SECONDS", 60))}


def artifact_settings(env, instance_path: str) -> dict:
    """Where run artifacts (files under /work/out/) are kept, and for how long (docs/artifacts.md)."""
    return {"ARTIFACT_STORE": env.get("ARTIFACT_STORE", "local"),  # local | s3
            "ARTIFACT_DIR": env.get("ARTIFACT_DIR") or os.path.join(instance_path, "artifacts"),
            "ARTIFACT_S3_BUCKET": env.get("ARTIFACT_S3_BUCKET", ""),
            "ARTIFACT_S3_PREFIX": env.get("ARTIFACT_S3_PREFIX", "artifacts/"),
            "ARTIFACT_S3_ENDPOINT_URL": env.get("ARTIFACT_S3_ENDPOINT_URL", ""),
            "ARTIFACT_S3_REGION": env.get("ARTIFACT_S3_REGION", ""),
            "ARTIFACT_RETENTION_HOURS": float(env.get("ARTIFACT_RETENTION_HOURS", 168)),
            "ARTIFACT_EXPIRE_INTERVAL_SECONDS": float(env.get("ARTIFACT_EXPIRE_INTERVAL_SECONDS", 600))}


def log_settings(env) -> dict:
    """Log lines (docs/observability.md): JSON objects unless standard error is a terminal."""
    default = "text" if sys.stderr.isatty() else "json"
    fmt = env.get("LOG_FORMAT", default).strip().lower()
    if fmt not in ("json", "text"):
        raise ValueError(f"LOG_FORMAT must be json or text, not {fmt!r}")
    return {"LOG_FORMAT": fmt, "LOG_LEVEL": env.get("LOG_LEVEL", "INFO").upper(),
            "LOG_FILE": env.get("LOG_FILE", "")}  # "": standard error


def retention_settings(env) -> dict:
    """How long executions and batches are kept (docs/retention.md): 0 days keeps them forever."""
    return {"RETENTION_DAYS": float(env.get("RETENTION_DAYS", 90)),
            "RETENTION_INTERVAL_SECONDS": float(env.get("RETENTION_INTERVAL_SECONDS", 86400)),
            "RETENTION_CHUNK_ROWS": int(env.get("RETENTION_CHUNK_ROWS", 500)),
            # the scheduled prune only reports what it would delete (its log, codestudio:retention:last)
            "RETENTION_DRY_RUN": env.get("RETENTION_DRY_RUN", "").lower() in ("1", "true", "yes")}


# libpq's own bounds on a PostgreSQL server that stops answering (a worker host cut off from the
# database): connecting, and unacknowledged writes or a silent peer, fail in seconds instead of
# the kernel's ~15 minutes of TCP retries, and the caller's retry/recovery path takes over
POSTGRES_CONNECT_ARGS = {"connect_timeout": 10, "keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
                         "keepalives_count": 3, "tcp_user_timeout": 30000}


def engine_options(url: str) -> dict:
    options: dict = {"pool_pre_ping": True}
    if url.startswith("postgresql"):
        options["connect_args"] = dict(POSTGRES_CONNECT_ARGS)
    return options


DEV_SECRET = "dev-insecure-secret"


class InsecureConfig(RuntimeError):
    pass


def check_production(config: dict) -> None:
    """Production (CODESTUDIO_ENV=production) refuses to start on development defaults."""
    if config.get("ENV_NAME") != "production":
        return
    if not config.get("SECRET_KEY") or config["SECRET_KEY"] == DEV_SECRET or len(config["SECRET_KEY"]) < 32:
        raise InsecureConfig("production needs SECRET_KEY: a random value of at least 32 characters")


def from_env(instance_path: str) -> dict:
    redis = redis_url(instance_path)
    env = os.environ
    return {
        "ENV_NAME": env.get("CODESTUDIO_ENV", "development"),
        "SECRET_KEY": env.get("SECRET_KEY", DEV_SECRET),
        "SQLALCHEMY_DATABASE_URI": database_url(instance_path),
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options(database_url(instance_path)),
        "REDIS_URL": redis,
        "CELERY_BROKER_URL": broker_url(redis),
        "MAX_CONTENT_LENGTH": int(env.get("MAX_REQUEST_BYTES", 8 * 1024 * 1024)),
        "MAX_CODE_BYTES": int(env.get("MAX_CODE_BYTES", 1024 * 1024)),
        "MAX_STDIN_BYTES": int(env.get("MAX_STDIN_BYTES", 1024 * 1024)),
        "RUN_DEFAULT_TIMEOUT": float(env.get("RUN_DEFAULT_TIMEOUT", 30)),
        "RUN_DEFAULT_MEMORY_MB": int(env.get("RUN_DEFAULT_MEMORY_MB", 512)),
        "RUN_WAIT_CAP_SECONDS": float(env.get("RUN_WAIT_CAP_SECONDS", 60)),
        # a live run with no input and no output this long ends (timeout)
        "LIVE_IDLE_SECONDS": float(env.get("LIVE_IDLE_SECONDS", 60)),
        "RECOVERY": recovery_policy(env),
        # proxies in front whose X-Forwarded-For / -Proto are trusted (`make run`'s nginx: 1)
        "PROXY_HOPS": int(env.get("CODESTUDIO_PROXY_HOPS", 0)),
        "JUDGE0_AT_ROOT": env.get("JUDGE0_AT_ROOT", "").lower() in ("1", "true", "yes"),
        # requests without a valid key, per client address (guessing keys, probing)
        "ANONYMOUS_REQUESTS_PER_MINUTE": int(env.get("ANONYMOUS_REQUESTS_PER_MINUTE", 120)),
        **({"RATELIMIT_STORAGE_URI": env["RATELIMIT_STORAGE_URI"]} if env.get("RATELIMIT_STORAGE_URI") else {}),
        # live runs (GET /codestudio/live, event streams): connections one API process holds (each
        # holds a thread: app/cli/front.py starts API_THREADS + this many), the largest frame
        # after `start`, and the stdin one connection may send per second
        "LIVE_CONNECTIONS": int(env.get("LIVE_CONNECTIONS", 64)),
        "LIVE_MAX_FRAME_BYTES": int(env.get("LIVE_MAX_FRAME_BYTES", 1024 * 1024)),
        "LIVE_STDIN_BYTES_PER_SECOND": int(env.get("LIVE_STDIN_BYTES_PER_SECOND", 1024 * 1024)),
        # how long an Idempotency-Key answers with what its first request created (docs/idempotency.md)
        "IDEMPOTENCY_RETENTION_HOURS": float(env.get("IDEMPOTENCY_RETENTION_HOURS", 24)),
        **artifact_settings(env, instance_path),
        **retention_settings(env),
        **log_settings(env),
        "TIERS": load_tiers(),
        "API_TITLE": "Code Studio",
        "API_VERSION": "1.0.0",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/codestudio",
        "OPENAPI_JSON_PATH": "openapi.json",
        "API_SPEC_OPTIONS": {
            "security": [{"bearerAuth": []}, {"apiKeyHeader": []}],
            "components": {"securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            }},
        },
    }
