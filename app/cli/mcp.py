"""`codestudio mcp`: the MCP server (mcp_server/), on stdio for a local agent or on streamable HTTP.

A client of the API like `grade`: it never loads the app or the database."""
from __future__ import annotations

import os

import click


@click.command("mcp")
@click.option("--socket", "socket_path", metavar="PATH",
              help="serve streamable HTTP at /mcp on this unix socket (the front proxies to it) instead of stdio")
@click.option("--port", type=int, help="serve streamable HTTP at http://127.0.0.1:PORT/mcp instead of stdio")
def mcp_command(socket_path: str | None, port: int | None) -> None:
    """MCP server for AI agents: tools to run code and manage projects through the API.

    On stdio (the default) every call uses CODESTUDIO_API_KEY against CODESTUDIO_URL (default
    http://127.0.0.1:8000). Over HTTP each request's own `Authorization: Bearer <key>` is used.
    """
    from mcp_server import McpSettings, run_stdio

    settings = McpSettings.from_env()
    if socket_path or port:
        from mcp_server.http import serve

        serve(settings, socket=socket_path, port=port or 0)
    else:
        run_stdio(settings, os.environ.get("CODESTUDIO_API_KEY"))
