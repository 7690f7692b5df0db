"""Request and response schemas of the project and file API."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from .common import FileName, Text, UtcDateTime

NAME = validate.Length(min=1, max=200)


class ProjectCreateSchema(Schema):
    name = Text(required=True, validate=NAME)
    language = Text(load_default=None, allow_none=True, validate=validate.Length(max=64))
    description = Text(load_default=None, allow_none=True, validate=validate.Length(max=10_000))
    entry = FileName(load_default=None, allow_none=True, metadata={"description": "file run when no code is sent"})


class ProjectFileSummarySchema(Schema):
    filename = fields.String()
    size = fields.Integer()
    created_at = UtcDateTime()
    updated_at = UtcDateTime()


class ProjectFileSchema(ProjectFileSummarySchema):
    project_id = fields.String()
    content = fields.String()


LastRunSchema = Schema.from_dict({"id": fields.String(), "status": fields.String(), "at": UtcDateTime()},
                                 name="LastRun")


class ProjectSchema(Schema):
    id = fields.String()
    name = fields.String()
    language = fields.String(allow_none=True)
    file_count = fields.Integer()
    total_size = fields.Integer()
    entry = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    created_at = UtcDateTime()
    updated_at = UtcDateTime()
    last_run = fields.Nested(LastRunSchema, allow_none=True)


class ProjectDetailSchema(ProjectSchema):
    files = fields.List(fields.Nested(ProjectFileSummarySchema))


class ProjectListSchema(Schema):
    items = fields.List(fields.Nested(ProjectSchema))


class FileListSchema(Schema):
    project_id = fields.String()
    items = fields.List(fields.Nested(ProjectFileSummarySchema), metadata={"description": "one page, by name"})
    next_cursor = fields.String(allow_none=True, metadata={"description": "the next page's `cursor`; null: the last"})


class FileRefSchema(Schema):
    project_id = Text(required=True, validate=validate.Length(min=1, max=64))
    filename = FileName(required=True)


class FileWriteSchema(FileRefSchema):
    content = Text(required=True)


class ProjectQuerySchema(Schema):
    project_id = Text(required=True, validate=validate.Length(min=1, max=64))


class FileListArgsSchema(ProjectQuerySchema):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    cursor = Text(load_default=None, validate=validate.Length(min=1, max=255),
                  metadata={"description": "`next_cursor` of the page before"})


class DeletedSchema(Schema):
    deleted = fields.String()
