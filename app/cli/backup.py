"""`codestudio backup` and `codestudio restore`: the database's durable records as one archive."""
from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade

from ..extensions import db
from ..services import backup as archive

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_command(path: Path) -> None:
    """Write users, key hashes, projects and their files, executions, usage and batches to PATH
    (gzip'd JSON lines), read from one consistent snapshot of the database."""
    partial = path.with_name(path.name + ".partial")
    with private_file(partial) as out:
        summary = archive.write(db.engine, db.metadata, out, current_app.config["TIERS"])
    partial.replace(path)  # a reader never sees half an archive under the final name
    click.echo(f"wrote {path}: schema {summary.revision}, " +
               ", ".join(f"{name} {count}" for name, count in summary.rows.items()))


@contextmanager
def private_file(path: Path) -> Iterator[BinaryIO]:
    """A new file only its owner may read (the archive holds key hashes and e-mail addresses); a
    leftover of an earlier attempt is removed first, never written through (it may be a symlink)."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as out:
        yield out


def archive_revision(path: Path) -> str:
    try:
        with gzip.open(path, "rt", encoding="utf-8") as source:
            manifest = json.loads(source.readline())
        return str(manifest["revision"])
    except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:
        raise click.ClickException(f"{path} is not a Code Studio backup: {exc}") from None


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def restore_command(path: Path) -> None:
    """Load a backup into this (empty) database: migrated to the archive's schema, loaded in one
    transaction, then migrated to the current schema."""
    upgrade(directory=str(MIGRATIONS), revision=archive_revision(path))
    try:
        with path.open("rb") as source:
            summary = archive.read(db.engine, db.metadata, source)
    except archive.RestoreError as exc:
        raise click.ClickException(str(exc)) from None
    upgrade(directory=str(MIGRATIONS))
    click.echo(f"restored {path}: " + ", ".join(f"{name} {count}" for name, count in summary.rows.items()))
