"""Code Studio's Python SDK: `Client` (blocking) and `AsyncClient` (asyncio) over httpx, typed results
(`Execution`, `Project`, ...), typed errors (`ApiError` and its subclasses) and live runs."""
from __future__ import annotations

from ._core import DEFAULT_URL
from .aio import AsyncClient
from .client import Client
from .errors import (
    ApiError,
    BadRequest,
    CodeStudioError,
    ConcurrencyLimited,
    Conflict,
    Forbidden,
    LimitExceeded,
    NotFound,
    PayloadTooLarge,
    QuotaExceeded,
    RateLimited,
    ServerError,
    ServiceUnavailable,
    TransportError,
    Unauthorized,
    UnknownLanguage,
    UnsupportedMediaType,
    ValidationError,
    WaitTimeout,
)
from .live import BlockingLiveRun, Exit, Failed, LiveEvent, LiveRun, Output, Stage
from .models import Artifact, Batch, BatchProgress, Execution, Language, Project, ProjectFile, RunError, Truncated
from .retry import Retry, RetryPolicy

__version__ = "0.2.0"
__all__ = [
    "DEFAULT_URL", "ApiError", "Artifact", "AsyncClient", "BadRequest", "Batch", "BatchProgress",
    "BlockingLiveRun", "Client", "CodeStudioError", "ConcurrencyLimited", "Conflict", "Execution", "Exit",
    "Failed", "Forbidden", "Language", "LimitExceeded", "LiveEvent", "LiveRun", "NotFound", "Output",
    "PayloadTooLarge", "Project", "ProjectFile", "QuotaExceeded", "RateLimited", "Retry", "RetryPolicy",
    "RunError", "ServerError", "ServiceUnavailable", "Stage", "TransportError", "Truncated", "Unauthorized",
    "UnknownLanguage", "UnsupportedMediaType", "ValidationError", "WaitTimeout",
]
