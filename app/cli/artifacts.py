"""`codestudio artifacts expire`: remove run artifacts past their retention and the blobs no row
names (every worker does this now and then on its own: ARTIFACT_EXPIRE_INTERVAL_SECONDS)."""
from __future__ import annotations

from datetime import timedelta

import click
from flask.cli import with_appcontext

from ..services import artifacts as service

artifacts = click.Group("artifacts", help="Run artifacts: the files runs wrote under /work/out/.")


@artifacts.command("expire")
@click.option("--grace-hours", default=service.ORPHAN_GRACE.total_seconds() / 3600, show_default=True,
              help="a blob no row names is removed once it is this old")
@with_appcontext
def expire(grace_hours: float) -> None:
    """Remove expired artifacts (rows and blobs) and blobs no artifact names."""
    rows, blobs = service.expire(service.blobs(), grace=timedelta(hours=grace_hours))
    click.echo(f"{rows} artifacts expired, {blobs} blobs removed")
