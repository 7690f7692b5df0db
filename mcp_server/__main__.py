"""`python -m mcp_server`: the same server as `codestudio mcp`, started without loading the command
line (and with it the API's app, database and Celery modules, which this process never uses): on
stdio by default, or streamable HTTP at /mcp on a unix socket (as the front runs it) or a port."""
from __future__ import annotations

import argparse
import os

from . import run_stdio
from .settings import McpSettings


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m mcp_server", description=__doc__)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--socket", help="serve streamable HTTP on this unix socket")
    where.add_argument("--port", type=int, help="serve streamable HTTP on this port of 127.0.0.1")
    options = parser.parse_args()
    settings = McpSettings.from_env()
    if options.socket or options.port:
        from .http import serve

        serve(settings, socket=options.socket, port=options.port or 0)
    else:
        run_stdio(settings, os.environ.get("CODESTUDIO_API_KEY"))


if __name__ == "__main__":
    main()
