"""Code Studio's MCP server: tools that run code and manage projects, for AI agents.

A client of the REST API only (through codestudio_client, with the caller's own key): it imports
nothing of app/, tasks/ or sandbox/, so authentication, quotas, rate limits and what a caller may
see are the API's. `codestudio mcp` serves it on stdio; the front serves it at /mcp (http.py)."""
from __future__ import annotations

from .settings import McpSettings

__all__ = ["McpSettings", "run_stdio"]


def run_stdio(settings: McpSettings, key: str | None) -> None:
    """Serve the tools on stdin/stdout with one key (the process's user) until stdin closes."""
    from .access import ProcessKey
    from .tools import build_server

    build_server(ProcessKey(settings, key), settings).run("stdio")
