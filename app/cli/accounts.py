"""`codestudio users …` and `codestudio keys …`: users, their tiers and their API keys."""
from __future__ import annotations

import re

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from ..extensions import db
from ..models import User, utcnow
from ..services.apikeys import create_user, issue_key, revoke_key

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
def users_create(email: str, tier: str) -> None:
    """Create a user and print a new API key."""
    _check_tier(tier)
    email = _valid_email(email)
    if db.session.execute(sa.select(User.id).where(User.email == email)).first():
        raise click.ClickException(f"user {email} exists")
    _, key = create_user(email, tier)
    click.echo(key)


@users.command("list")
@with_appcontext
def users_list() -> None:
    click.echo("id\temail\ttier")
    for user in db.session.execute(sa.select(User).order_by(User.id)).scalars():
        click.echo(f"{user.id}\t{user.email}\t{user.tier}")


@users.command("set-tier")
@click.argument("email")
@click.argument("tier")
@with_appcontext
def users_set_tier(email: str, tier: str) -> None:
    _check_tier(tier)
    _user(email).tier = tier
    db.session.commit()
    click.echo(f"{email.strip().lower()}: {tier}")


@keys.command("create")
@click.argument("email")
@with_appcontext
def keys_create(email: str) -> None:
    """Issue another API key for a user."""
    key = issue_key(_user(email))
    db.session.commit()
    click.echo(key)


@keys.command("revoke")
@click.argument("prefix")
@with_appcontext
def keys_revoke(prefix: str) -> None:
    """Revoke keys by their first 11 characters."""
    revoked = revoke_key(prefix)
    if not revoked:
        raise click.ClickException(f"no active key starts with {prefix!r}")
    click.echo(f"revoked {revoked}")


@keys.command("rotate")
@click.argument("email")
@with_appcontext
def keys_rotate(email: str) -> None:
    """Revoke every key of a user and print a new one."""
    user = _user(email)
    for key in user.keys:
        if key.revoked_at is None:
            key.revoked_at = utcnow()
    new_key = issue_key(user)
    db.session.commit()
    click.echo(new_key)
