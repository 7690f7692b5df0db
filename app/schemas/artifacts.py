"""A run artifact as the API shows it (in an execution, in a batch case's result)."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import url_for
from marshmallow import Schema, fields


def artifact_url(row: Any) -> str:
    """Of an app.models.Artifact row (not imported: app.extensions loads the schemas before the models)."""
    if row.execution_id is not None:
        return url_for("artifacts.execution_artifact", execution_id=row.execution_id, name=row.name)
    assert row.batch_case is not None
    return url_for("artifacts.case_artifact", batch_id=row.batch_case.batch_id, case_id=row.batch_case_id,
                   name=row.name)


def unexpired(rows: Any) -> list[Any]:
    """Rows whose retention has not passed (expiry removes the others within minutes; their URLs
    answer 404 already)."""
    now = datetime.now(UTC)
    return [row for row in rows or () if (row.expires_at if row.expires_at.tzinfo else
                                          row.expires_at.replace(tzinfo=UTC)) > now]


class ArtifactSchema(Schema):
    name = fields.String(metadata={"description": "its path under /work/out/, e.g. plots/a.png"})
    size = fields.Integer(metadata={"description": "bytes"})
    mime = fields.String()
    sha256 = fields.String()
    url = fields.Function(artifact_url, metadata={"type": "string", "description": "GET it here (its owner only)"})


class ArtifactList(fields.List):
    """An execution's or a batch case's artifacts, as they are now."""

    def __init__(self, **kwargs: Any):
        super().__init__(fields.Nested(ArtifactSchema), **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return super()._serialize(unexpired(value), attr, obj, **kwargs)
