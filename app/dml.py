"""Data-changing statements (UPDATE, DELETE, INSERT) run in the current session."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import sqlalchemy as sa

from .extensions import db


def rows_changed(statement: sa.Executable, params: Mapping[str, Any] | None = None) -> int:
    """Run a DML statement in the session; how many rows it matched. Session.execute types every
    result as a Result; a DML statement's is a CursorResult, the one that has the count."""
    result = db.session.execute(statement, params)
    return cast(sa.CursorResult[Any], result).rowcount
