"""Command line: `codestudio users …`, `codestudio keys …`, `codestudio stack`, `codestudio grade`."""
from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from .extensions import db
from .models import UsageRecord, User, utcnow
from .services.apikeys import create_user, issue_key, revoke_key
from .services.quotas import day_start

EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
users = click.Group("users", help="Manage users.")
keys = click.Group("keys", help="Manage API keys.")


def _check_tier(tier: str) -> None:
    if tier not in current_app.config["TIERS"]:
        raise click.BadParameter(f"tier must be one of {sorted(current_app.config['TIERS'])}")


def _valid_email(email: str) -> str:
    email = email.strip().lower()
    if not EMAIL.fullmatch(email):
        raise click.BadParameter(f"not an email address: {email!r}")
    return email


def _user(email: str) -> User:
    user = db.session.execute(sa.select(User).where(User.email == email.strip().lower())).scalar_one_or_none()
    if user is None:
        raise click.ClickException(f"no user {email}")
    return user


@users.command("create")
@click.argument("email")
@click.option("--tier", default="free", show_default=True)
@with_appcontext
def users_create(email, tier):
    """Create a user and print a new API key."""
    _check_tier(tier)
    email = _valid_email(email)
    if db.session.execute(sa.select(User.id).where(User.email == email)).first():
        raise click.ClickException(f"user {email} exists")
    _, key = create_user(email, tier)
    click.echo(key)


@users.command("list")
@with_appcontext
def users_list():
    click.echo("id\temail\ttier")
    for user in db.session.execute(sa.select(User).order_by(User.id)).scalars():
        click.echo(f"{user.id}\t{user.email}\t{user.tier}")


@users.command("set-tier")
@click.argument("email")
@click.argument("tier")
@with_appcontext
def users_set_tier(email, tier):
    _check_tier(tier)
    _user(email).tier = tier
    db.session.commit()
    click.echo(f"{email.strip().lower()}: {tier}")


@keys.command("create")
@click.argument("email")
@with_appcontext
def keys_create(email):
    """Issue another API key for a user."""
    key = issue_key(_user(email))
    db.session.commit()
    click.echo(key)


@keys.command("revoke")
@click.argument("prefix")
@with_appcontext
def keys_revoke(prefix):
    """Revoke keys by their first 11 characters."""
    revoked = revoke_key(prefix)
    if not revoked:
        raise click.ClickException(f"no active key starts with {prefix!r}")
    click.echo(f"revoked {revoked}")


@keys.command("rotate")
@click.argument("email")
@with_appcontext
def keys_rotate(email):
    """Revoke every key of a user and print a new one."""
    user = _user(email)
    for key in user.keys:
        if key.revoked_at is None:
            key.revoked_at = utcnow()
    new_key = issue_key(user)
    db.session.commit()
    click.echo(new_key)


usage = click.Group("usage", help="Usage across users.")


@usage.command("report")
@click.option("--days", default=30, show_default=True, help="how many days back (UTC)")
@with_appcontext
def usage_report(days):
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


@click.command("stack")
@click.option("--workers", default=2, show_default=True, help="worker concurrency")
@click.option("--pool", default="prefork", show_default=True, type=click.Choice(["prefork", "threads", "solo"]))
def stack(workers, pool):
    """Start the embedded stack: Redis, migrations, workers, API."""
    from .stack import run_stack

    run_stack(workers, pool)


@click.command("front-config")
@click.option("--upstream", default="/run/codestudio/api.sock", show_default=True,
              help="gunicorn's unix socket (gunicorn -b unix:<path>)")
@click.option("--state-dir", default="/var/lib/codestudio/front", show_default=True, help="pid and logs")
@click.option("--runtime-dir", default="/run/codestudio", show_default=True, help="nginx's temp files")
def front_config(upstream, state_dir, runtime_dir):
    """Print the nginx configuration that fronts the API (HOST, PORT, FRONT_* and limits from the environment)."""
    from .front import FrontSettings, render_config

    click.echo(render_config(FrontSettings.from_env(), Path(state_dir), Path(runtime_dir), Path(upstream)), nl=False)


def register_commands(app: Flask) -> None:
    for command in (users, keys, usage, stack, front_config):
        app.cli.add_command(command)


def register_client_commands(group: click.Group) -> None:
    """API clients (`grade`): on the top-level group, so running them never loads the app or the database."""
    from .grade_client import grade

    group.add_command(grade)


def main() -> None:
    from . import create_app

    group = FlaskGroup(create_app=create_app, add_default_commands=True)
    register_client_commands(group)
    group(prog_name="codestudio")
