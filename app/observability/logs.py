"""Structured logs: one JSON object per line (LOG_FORMAT=json) or readable text (text).

Every line written while an execution is bound (`bind`: where the API records one, where a worker
claims one) carries its id, user id, language and status. Credentials never reach a line: the
formatter masks anything shaped like an API key or an Authorization value, whatever logged it."""
from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import IO, Any


@dataclass(frozen=True)
class ExecutionContext:
    execution_id: str
    user_id: int | None
    language: str
    status: str


_current: contextvars.ContextVar[ExecutionContext | None] = contextvars.ContextVar("codestudio_execution",
                                                                                  default=None)


def bind(context: ExecutionContext | None) -> None:
    _current.set(context)


def bound() -> ExecutionContext | None:
    return _current.get()


def set_status(status: str) -> None:
    context = _current.get()
    if context is not None:
        _current.set(replace(context, status=status))


# API keys (cs_ + 43 URL-safe characters), bearer and basic credentials, X-API-Key values
_SECRETS = re.compile(r"\bcs_[A-Za-z0-9_\-]{8,}|\b(?:Bearer|Basic)\s+[A-Za-z0-9._~+/=\-]+|(?i:x-api-key)[\"':= ]+\S+")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    return _SECRETS.sub(REDACTED, text)


class ContextFilter(logging.Filter):
    """Copies the bound execution onto each record (its fields for JSON, a prefix for text)."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _current.get()
        if context is not None and not hasattr(record, "execution_id"):
            for key, value in asdict(context).items():
                setattr(record, key, value)
        return True


CONTEXT_FIELDS = ("execution_id", "user_id", "language", "status")
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage(),
            "process": record.process,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(line, default=str))


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if getattr(record, "execution_id", None):
            fields = " ".join(f"{k}={getattr(record, k, None)}" for k in CONTEXT_FIELDS)
            text = f"{text} [{fields}]"
        return redact(text)


@dataclass(frozen=True)
class LogSettings:
    format: str  # json | text
    level: str
    file: str  # "" for standard error

    @classmethod
    def from_config(cls, config: dict) -> LogSettings:
        return cls(config["LOG_FORMAT"], config["LOG_LEVEL"], config["LOG_FILE"])


def formatter(settings: LogSettings) -> logging.Formatter:
    return JsonFormatter() if settings.format == "json" else TextFormatter()


def configure(settings: LogSettings, level: str | int | None = None) -> None:
    """The root logger writes one line per record to LOG_FILE (appending) or standard error; loggers
    that keep handlers of their own (gunicorn's) get the same format."""
    stream: IO[str] = open(settings.file, "a", buffering=1) if settings.file else sys.stderr
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter(settings))
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level or settings.level.upper())
    logging.captureWarnings(True)  # Python warnings become lines of the same format
    for name in ("gunicorn.error", "gunicorn.access", "celery", "celery.task"):
        for other in logging.getLogger(name).handlers:
            other.setFormatter(formatter(settings))
            other.addFilter(ContextFilter())
