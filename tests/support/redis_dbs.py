"""Redis databases of their own for tests that need a broker no session worker reads (or that
flush what they use): never the session's own database, whichever number that is (CI gives the
PostgreSQL pass db 9)."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit, urlunsplit

DATABASES = 16  # a default Redis server's


def database_of(url: str) -> int:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return int(parse_qs(parts.query).get("db", ["0"])[0])
    return int(parts.path.strip("/") or 0)


def spare_database(url: str, offset: int) -> str:
    """The same server's database `offset` (1 to 15) after the session's: distinct from it."""
    if not 0 < offset < DATABASES:
        raise ValueError(f"offset must be 1 to {DATABASES - 1}")
    number = (database_of(url) + offset) % DATABASES
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"{url.split('?')[0]}?db={number}"
    return urlunsplit(parts._replace(path=f"/{number}"))
