"""Code Studio API client: `Client` for the calls, `CodeStudioError` and its subclasses for what fails."""
from __future__ import annotations

from .client import DEFAULT_URL, Client
from .errors import (
    ApiError,
    BadRequest,
    CodeStudioError,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    ServiceUnavailable,
    TransportError,
    Unauthorized,
    UnsupportedMediaType,
    ValidationError,
)

__version__ = "0.1.0"
__all__ = [
    "DEFAULT_URL", "ApiError", "BadRequest", "Client", "CodeStudioError", "Conflict", "Forbidden", "NotFound",
    "PayloadTooLarge", "RateLimited", "ServerError", "ServiceUnavailable", "TransportError", "Unauthorized",
    "UnsupportedMediaType", "ValidationError",
]
