"""PostgreSQL databases a test run creates on the server it is given, and drops."""
from __future__ import annotations

from collections.abc import Callable

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
