"""A database's durable records as one archive, and that archive loaded into an empty database.

The archive is gzip'd JSON lines: a manifest line (format, schema revision, tiers, each table's row
count), then one line per row, `{"t": table, "r": {column: value}}`, tables in dependency order.
Values are written by column type (bytes as base64, timestamps as ISO 8601, decimals as text), so
an archive made from SQLite loads into PostgreSQL and back. It is read from one snapshot: a
REPEATABLE READ, read-only transaction on PostgreSQL; on SQLite a copy made with SQLite's online
backup API. Artifacts and idempotency keys are left out: both expire within days, and an
artifact's bytes live in the artifact store, not the database.
"""
from __future__ import annotations

import base64
import gzip
import json
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa

FORMAT = "codestudio-backup/1"
SKIPPED_TABLES = frozenset({"alembic_version", "artifacts", "idempotency_keys"})
INSERT_CHUNK = 500


class RestoreError(RuntimeError):
    """The archive cannot be loaded here: another schema, a database that is not empty, a bad file."""


@dataclass(frozen=True)
class Summary:
    revision: str
    rows: dict[str, int]


def tables(metadata: sa.MetaData) -> list[sa.Table]:
    """The tables an archive holds, parents before children."""
    return [t for t in metadata.sorted_tables if t.name not in SKIPPED_TABLES]


def revision_of(conn: sa.Connection) -> str:
    return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()


def _encode(column: sa.Column, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, sa.LargeBinary):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _decode(column: sa.Column, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, sa.LargeBinary):
        return base64.b64decode(value)
    if isinstance(column.type, sa.DateTime):
        return datetime.fromisoformat(value)
    if isinstance(column.type, sa.Numeric) and not isinstance(column.type, sa.Float):
        return Decimal(value)
    if not isinstance(value, _PLAIN_TYPES.get(type(column.type), object)) or (
            isinstance(value, bool) and not isinstance(column.type, sa.Boolean)):
        raise TypeError(f"{column.table.name}.{column.name} takes no {type(value).__name__}")
    return value


# what JSON gives each plain column type (a database may take, or cast, any of them silently)
_PLAIN_TYPES: dict[type, type | tuple[type, ...]] = {
    sa.Integer: int, sa.Float: (int, float), sa.Boolean: bool, sa.String: str, sa.Text: str}


@contextmanager
def snapshot(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection that sees one consistent state of the database for as long as it is open."""
    if engine.dialect.name != "sqlite":
        with engine.connect() as conn:
            conn.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
            yield conn
            conn.rollback()
        return
    with tempfile.TemporaryDirectory(prefix="codestudio-backup-") as scratch:
        copy = Path(scratch) / "snapshot.db"
        source = engine.raw_connection()
        try:
            with sqlite3.connect(copy) as target:
                source.driver_connection.backup(target)  # type: ignore[union-attr]
        finally:
            source.close()
        copied = sa.create_engine(f"sqlite:///{copy}")
        try:
            with copied.connect() as conn:
                yield conn
        finally:
            copied.dispose()


def write(engine: sa.Engine, metadata: sa.MetaData, out: IO[bytes], tiers: dict[str, Any]) -> Summary:
    """Writes the archive to `out` (a binary file); returns what it holds."""
    with snapshot(engine) as conn, gzip.open(out, "wt", encoding="utf-8") as archive:
        held = tables(metadata)
        rows = {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() for t in held}
        revision = revision_of(conn)
        manifest = {"format": FORMAT, "revision": revision, "dialect": engine.dialect.name,
                    "created_at": datetime.now(UTC).isoformat(), "tiers": tiers, "rows": rows}
        archive.write(json.dumps(manifest, default=str) + "\n")  # tiers hold decimal prices
        for table in held:
            order = list(table.primary_key.columns) or list(table.columns)
            for row in conn.execute(sa.select(table).order_by(*order)).mappings():
                record = {c.name: _encode(c, row[c.name]) for c in table.columns}
                archive.write(json.dumps({"t": table.name, "r": record}, separators=(",", ":")) + "\n")
    return Summary(revision, rows)


def _manifest(archive: IO[str]) -> dict[str, Any]:
    try:
        manifest = json.loads(archive.readline())
    except (ValueError, OSError, EOFError) as exc:
        raise RestoreError(f"not a Code Studio backup: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise RestoreError("not a Code Studio backup (its first line is not a manifest)")
    rows = manifest.get("rows")
    if not isinstance(manifest.get("revision"), str) or not isinstance(rows, dict) or not all(
            isinstance(count, int) for count in rows.values()):
        raise RestoreError("not a Code Studio backup (its manifest names no revision or row counts)")
    return manifest


def _row(by_name: dict[str, sa.Table], line: str) -> tuple[sa.Table, dict[str, Any]]:
    """One archive line as (table, values for every column); RestoreError for anything else."""
    entry = json.loads(line)
    if not isinstance(entry, dict) or not isinstance(entry.get("r"), dict):
        raise RestoreError("not a row: {\"t\": table, \"r\": {column: value}}")
    table = by_name.get(entry.get("t"))  # type: ignore[arg-type]
    if table is None:
        raise RestoreError(f"the archive holds an unknown table {entry.get('t')!r}")
    unknown = set(entry["r"]) - set(table.columns.keys())
    if unknown:
        raise RestoreError(f"table {table.name} has no column {sorted(unknown)[0]!r}")
    return table, {c.name: _decode(c, entry["r"].get(c.name)) for c in table.columns}


def _check_target(conn: sa.Connection, metadata: sa.MetaData, revision: str) -> None:
    here = revision_of(conn)
    if here != revision:
        raise RestoreError(f"the archive is of schema revision {revision}; this database is at {here}")
    for table in tables(metadata):
        if conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one():
            raise RestoreError(f"the database is not empty (table {table.name} has rows): restore into an empty one")


def _reset_sequences(conn: sa.Connection, metadata: sa.MetaData) -> None:
    """PostgreSQL hands out ids from sequences that inserted ids do not move: move them past."""
    if conn.dialect.name != "postgresql":
        return
    for table in tables(metadata):
        keys = list(table.primary_key.columns)
        if len(keys) == 1 and isinstance(keys[0].type, sa.Integer):
            name, column = table.name, keys[0].name
            conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{name}', '{column}'), "
                                 f"COALESCE((SELECT MAX({column}) FROM {name}), 0) + 1, false)"))


def read(engine: sa.Engine, metadata: sa.MetaData, source: IO[bytes]) -> Summary:
    """Loads the archive in one transaction: all of it or nothing. An archive that is not one this
    schema can hold (a bad line, value or type; a row the database refuses) is a RestoreError."""
    try:
        return _load(engine, metadata, source)
    except RestoreError:
        raise
    except sa.exc.StatementError as exc:  # a value of the wrong type, a constraint: nothing was kept
        raise RestoreError(f"the database refused the archive's rows: {exc.orig or exc}") from None
    except (ValueError, TypeError, KeyError, ArithmeticError, OSError, EOFError) as exc:
        raise RestoreError(f"the archive is damaged: {type(exc).__name__}: {exc}") from None


def _load(engine: sa.Engine, metadata: sa.MetaData, source: IO[bytes]) -> Summary:
    by_name = {t.name: t for t in tables(metadata)}
    loaded = dict.fromkeys(by_name, 0)
    with gzip.open(source, "rt", encoding="utf-8") as archive, engine.begin() as conn:
        manifest = _manifest(archive)
        _check_target(conn, metadata, manifest["revision"])
        pending: list[dict[str, Any]] = []
        current: sa.Table | None = None
        for number, line in enumerate(archive, start=2):
            try:
                table, values = _row(by_name, line)
            except RestoreError as exc:
                raise RestoreError(f"line {number}: {exc}") from None
            except (ValueError, TypeError, ArithmeticError) as exc:
                raise RestoreError(f"line {number}: a bad value ({type(exc).__name__}: {exc})") from None
            if table is not current or len(pending) >= INSERT_CHUNK:
                if current is not None and pending:
                    conn.execute(current.insert(), pending)
                current, pending = table, []
            pending.append(values)
            loaded[table.name] += 1
        if current is not None and pending:
            conn.execute(current.insert(), pending)
        expected = {name: count for name, count in manifest["rows"].items() if name in by_name}
        if {name: loaded[name] for name in expected} != expected:
            raise RestoreError(f"the archive is incomplete: expected {expected}, found {loaded}")
        _reset_sequences(conn, metadata)
    return Summary(manifest["revision"], loaded)
