"""PostgreSQL databases a test run creates on the server it is given, and drops."""
from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa


def create_pg_database(server_url: str, name: str) -> tuple[str, Callable[[], None]]:
    """(the new database's URL, a function dropping it)."""
    admin = sa.create_engine(server_url.replace("postgresql://", "postgresql+psycopg://", 1),
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = server_url.rsplit("/", 1)[0] + "/" + name

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


@pytest.fixture
def empty_database(tmp_path: Path) -> Iterator[str]:
    """A URL of a database with nothing in it, on the session's kind of server (a test module
    imports the fixture to use it)."""
    server = os.environ.get("CODESTUDIO_TEST_DATABASE_URL")
    if not server:
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    url, drop = create_pg_database(server, f"codestudio_empty_{uuid.uuid4().hex[:8]}")
    yield url
    drop()
