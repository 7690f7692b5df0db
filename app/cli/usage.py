"""`codestudio usage report`: executions, CPU seconds and cost per user, as CSV."""
from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from ..extensions import db
from ..models import UsageRecord, User
from ..services.quotas import day_start

usage = click.Group("usage", help="Usage across users.")


@usage.command("report")
@click.option("--days", default=30, show_default=True, help="how many days back (UTC)")
@with_appcontext
def usage_report(days: int) -> None:
    """CSV to stdout: one row per user with executions, CPU seconds and cost."""
    since = day_start() - timedelta(days=days - 1)
    rows = db.session.execute(
        sa.select(User.id, User.email, User.tier, sa.func.count(UsageRecord.id).filter(UsageRecord.kind == "run"),
                  sa.func.count(UsageRecord.id).filter(UsageRecord.status == "success"),
                  sa.func.coalesce(sa.func.sum(UsageRecord.cpu_seconds), 0),
                  sa.func.coalesce(sa.func.sum(UsageRecord.cost), 0))
        .outerjoin(UsageRecord, sa.and_(UsageRecord.user_id == User.id, UsageRecord.created_at >= since))
        .group_by(User.id, User.email, User.tier).order_by(User.id)
    ).all()
    buffer = io.StringIO()
    out = csv.writer(buffer)
    out.writerow(["user_id", "email", "tier", "executions", "successes", "cpu_seconds", "cost"])
    for user_id, email, tier, executions, successes, cpu, cost in rows:
        out.writerow([user_id, email, tier, executions, successes, round(float(cpu), 4), Decimal(cost)])
    click.echo(buffer.getvalue(), nl=False)
