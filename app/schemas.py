"""Request and response schemas (marshmallow), also the OpenAPI document."""
from __future__ import annotations

import math
from datetime import timezone

from marshmallow import (
    INCLUDE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates_schema,
)

from sandbox.filenames import FileNameError, check_layout, normal_name

STATUSES = ("queued", "running", "success", "error", "compile_error", "timeout", "memory_limit",
            "output_limit", "internal_error")
MAX_FILES = 32
MAX_ARGS = 64
MAX_ARG_LENGTH = 4096


class Text(fields.String):
    """A string that PostgreSQL and the file system can hold: valid UTF-8, no NUL."""

    def _deserialize(self, value, attr, data, **kwargs):
        return check_text(super()._deserialize(value, attr, data, **kwargs))


def check_text(text: str) -> str:
    """Raises ValidationError unless PostgreSQL and the file system can hold the text."""
    if "\x00" in text:
        raise ValidationError("must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("must be valid Unicode (no lone surrogates)") from None
    return text


def check_args(args) -> list[str]:
    """The program's arguments, checked alike on every API (each reaches exec as one argv
    element, so exec must be able to take them): at most MAX_ARGS strings of at most
    MAX_ARG_LENGTH characters, storable text. Raises ValidationError."""
    if not isinstance(args, list) or not all(isinstance(arg, str) for arg in args):
        raise ValidationError("must be a list of strings")
    if len(args) > MAX_ARGS:
        raise ValidationError(f"at most {MAX_ARGS} arguments")
    for arg in args:
        if len(arg) > MAX_ARG_LENGTH:
            raise ValidationError(f"each argument has at most {MAX_ARG_LENGTH} characters")
        check_text(arg)
    return args


def is_number(value) -> bool:
    """A JSON number that can be compared and converted: not a bool, not NaN or infinite
    (integers of any size are fine: comparing them never converts them to float)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return isinstance(value, int) or math.isfinite(value)


def check_file_name(name: str) -> str:
    """The name's normal form (see sandbox.filenames); raises ValidationError naming the file."""
    try:
        return normal_name(name)
    except FileNameError as exc:
        raise ValidationError(f"file name {exc}") from None


def check_file_layout(names: list[str]) -> None:
    """Names that fit one directory tree once normalised (none twice, no file used as a directory)."""
    try:
        check_layout(names)
    except FileNameError as exc:
        raise ValidationError(f"file name {exc}") from None


class FileName(Text):
    """A file name in its normal form: relative, NFC, no '.' or '..' segments, no control, format
    or separator characters, bounded length."""

    def _deserialize(self, value, attr, data, **kwargs):
        return check_file_name(super()._deserialize(value, attr, data, **kwargs))


class UtcDateTime(fields.DateTime):
    """Timestamps are UTC; SQLite hands them back naive."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return super()._serialize(value, attr, obj, **kwargs)


class FileSchema(Schema):
    name = FileName(required=True)
    content = Text(required=True)


class LimitsSchema(Schema):
    timeout = fields.Float(validate=validate.Range(min=0.1), metadata={"description": "wall seconds"})
    memory_mb = fields.Integer(validate=validate.Range(min=32))


class RunRequestSchema(Schema):
    language = Text(load_default=None, validate=validate.Length(min=1, max=64),
                    metadata={"description": "id or alias; defaults to the project's language"})
    code = Text(load_default=None, metadata={"description": "the entry file; without it a project's entry file runs"})
    filename = FileName(load_default=None, metadata={"description": "with project_id and no code: the project file to run"})
    stdin = Text(load_default="")
    args = fields.List(Text(), load_default=list, validate=check_args)
    files = fields.List(fields.Nested(FileSchema), load_default=list, validate=validate.Length(max=MAX_FILES))
    limits = fields.Nested(LimitsSchema, load_default=dict)
    wait = fields.Boolean(load_default=True)
    project_id = Text(load_default=None, allow_none=True, validate=validate.Length(max=64),
                      metadata={"description": "run inside this project: its files are placed in the work dir"})

    @validates_schema
    def _code_or_project(self, data, **kwargs):
        if not data.get("project_id"):
            for field in ("code", "language"):
                if data.get(field) is None:
                    raise ValidationError("Missing data for required field.", field)

    @validates_schema
    def _consistent_files(self, data, **kwargs):
        try:
            check_file_layout([f["name"] for f in data.get("files", [])])
        except ValidationError as exc:
            raise ValidationError(exc.messages, "files") from None


class ProblemSchema(Schema):
    """RFC 9457 problem details, with a stable machine-readable `code` and extension members
    (e.g. `language`, `limit`, `maximum`, `tier`, `file`)."""

    class Meta:
        unknown = INCLUDE
    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    code = fields.String()
    detail = fields.String()
    instance = fields.String()
    errors = fields.Dict(metadata={"description": "per-field validation messages"})


class StatusSchema(Schema):
    status = fields.String()


class StatsGroupSchema(Schema):
    executions = fields.Integer()
    cpu_seconds = fields.Float()
    cost = fields.String()


class StatsSchema(StatsGroupSchema):
    """Totals (the group fields) plus the same figures by language and by status."""
    tier = fields.String()
    pending = fields.Integer()
    success_rate = fields.Float(allow_none=True)
    by_language = fields.Dict(keys=fields.String(), values=fields.Nested(StatsGroupSchema))
    by_status = fields.Dict(keys=fields.String(), values=fields.Nested(StatsGroupSchema))
    by_day = fields.Dict(keys=fields.String(), values=fields.Nested(StatsGroupSchema),
                         metadata={"description": "YYYY-MM-DD (UTC), last 30 days"})
    quota = fields.Dict(metadata={"description": "used, limit and remaining per quota of the tier"})
    limits = fields.Dict(metadata={"description": "the tier's largest timeout and memory_mb a run may ask for, and "
                                   "compile_timeout / compile_memory_mb: the most a compile stage gets"})


class TruncatedSchema(Schema):
    stdout = fields.Boolean()
    stderr = fields.Boolean()


class ExecutionSchema(Schema):
    id = fields.String()
    status = fields.String()
    language = fields.String()
    stdout = fields.String(allow_none=True)
    stderr = fields.String(allow_none=True)
    compile_output = fields.String(allow_none=True)
    returncode = fields.Integer(allow_none=True)
    signal = fields.String(allow_none=True)
    execution_time = fields.Float(allow_none=True)
    cpu_time = fields.Float(allow_none=True)
    memory_kb = fields.Integer(allow_none=True)
    truncated = fields.Nested(TruncatedSchema)
    message = fields.String(allow_none=True)
    timeout = fields.Float()
    memory_mb = fields.Integer()
    project_id = fields.String(allow_none=True)
    created_at = UtcDateTime()
    started_at = UtcDateTime(allow_none=True)
    finished_at = UtcDateTime(allow_none=True)
    queue_seconds = fields.Float(allow_none=True)


class ExecutionPageSchema(Schema):
    items = fields.List(fields.Nested(ExecutionSchema))
    next_cursor = fields.String(allow_none=True)


class PageArgsSchema(Schema):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = fields.String(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    language = fields.String(load_default=None)


class LanguageSchema(Schema):
    id = fields.String()
    name = fields.String()
    version = fields.String(allow_none=True)
    aliases = fields.List(fields.String())
    extension = fields.String()
    available = fields.Boolean()
