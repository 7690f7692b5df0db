"""The MCP server's settings, read from the environment once at start-up."""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class McpSettings:
    api_url: str = DEFAULT_URL
    # gunicorn's unix socket behind the front: /mcp reaches the API there (see docs/mcp.md)
    api_socket: str | None = None
    output_chars: int = 20_000          # stdout and stderr each, in a result's text
    image_bytes: int = 2 * 1024 * 1024  # a larger image artifact is a link, not inline content
    key_cache_seconds: float = 30.0     # a key the API accepted is not asked about again for this long
    max_body_bytes: int = 8 * 1024 * 1024

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> McpSettings:
        defaults = cls()
        return cls(
            api_url=env.get("CODESTUDIO_URL") or defaults.api_url,
            api_socket=env.get("CODESTUDIO_API_SOCKET") or None,
            output_chars=int(env.get("MCP_OUTPUT_CHARS", defaults.output_chars)),
            image_bytes=int(env.get("MCP_IMAGE_BYTES", defaults.image_bytes)),
            key_cache_seconds=float(env.get("MCP_KEY_CACHE_SECONDS", defaults.key_cache_seconds)),
            max_body_bytes=int(float(env.get("MAX_REQUEST_BYTES", defaults.max_body_bytes))),
        )
