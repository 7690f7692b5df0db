"""Command line: `codestudio users …`, `keys …`, `usage …`, `artifacts …`, `backup`, `restore`, `stack`,
`prune`, `front-config`, `grade` and `mcp`.

The admin and service commands run inside the app (Flask's CLI); `grade` and `mcp` are API clients
and are added to the top-level group so that running them never loads the app or the database."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup

from .accounts import keys, users
from .artifacts import artifacts
from .backup import backup_command, restore_command
from .front import front_config
from .prune import prune_command
from .stack import stack
from .usage import usage


def register_commands(app: Flask) -> None:
    for command in (users, keys, usage, stack, front_config, backup_command, restore_command, prune_command):
        app.cli.add_command(command)
    app.cli.add_command(artifacts)


def register_client_commands(group: click.Group) -> None:
    from .grade import grade
    from .mcp import mcp_command

    group.add_command(grade)
    group.add_command(mcp_command)


def main() -> None:
    from .. import create_app

    group = FlaskGroup(create_app=create_app, add_default_commands=True)
    register_client_commands(group)
    group(prog_name="codestudio")
