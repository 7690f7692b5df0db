"""Request and response schemas of runs and executions (marshmallow), also the OpenAPI document."""
from __future__ import annotations

from typing import Any

from marshmallow import INCLUDE, Schema, ValidationError, fields, post_load, validate, validates_schema
from marshmallow.utils import get_value

from sandbox import ExecutionStatus

from ..services.run_request import Limits, RunRequest, SourceFile
from ..services.runtime_errors import error_of
from .artifacts import ArtifactList
from .common import MAX_FILES, FileName, FileSchema, LimitsSchema, Text, UtcDateTime, check_args, check_file_layout

STATUSES = tuple(ExecutionStatus)


class RunRequestSchema(Schema):
    language = Text(load_default=None, validate=validate.Length(min=1, max=64),
                    metadata={"description": "id or alias; defaults to the project's language"})
    version = Text(load_default=None, validate=validate.Length(min=1, max=64), metadata={
        "description": "which of the language's toolchains: a runtime (`pypy`, `deno`, `bun`), a language id or "
                       "a SemVer range of the version it runs (`2.x`); without it the language's own (422 "
                       "`unknown_version` when none matches)"})
    code = Text(load_default=None, metadata={"description": "the entry file; without it a project's entry file runs"})
    filename = FileName(load_default=None,
                        metadata={"description": "with project_id and no code: the project file to run"})
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

    @post_load
    def _request(self, data: dict[str, Any], **kwargs: Any) -> RunRequest:
        return RunRequest(
            language=data["language"], code=data["code"], stdin=data["stdin"], args=tuple(data["args"]),
            files=tuple(SourceFile(f["name"], f["content"]) for f in data["files"]),
            limits=Limits(**data["limits"]), wait=data["wait"], project_id=data["project_id"],
            filename=data["filename"], version=data["version"])


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
    compile_stage = fields.Method("_compile_stage", data_key="compile", metadata={
        "type": "object", "nullable": True, "description": "what compiling used; null where nothing compiled",
        "properties": {"cpu_time": {"type": "number"}, "wall_time": {"type": "number"},
                       "memory_kb": {"type": "integer"}}})
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
    error = fields.Method("_error", metadata={
        "type": "object", "nullable": True, "description": "a failed run's uncaught error as its stderr reports it "
        "(Python, JavaScript, TypeScript, Java, Kotlin; docs/errors.md); null if it succeeded or none is read",
        "properties": {"name": {"type": "string"}, "message": {"type": "string"},
                       "traceback": {"type": "array", "items": {"type": "string"}}}})
    artifacts = ArtifactList(metadata={"description": "files it wrote under /work/out/"})
    artifacts_note = fields.String(allow_none=True, metadata={"description": "why not every file was kept"})

    def _compile_stage(self, execution: Any) -> dict[str, Any] | None:
        used = {key: get_value(execution, f"compile_{key}") for key in ("cpu_time", "wall_time", "memory_kb")}
        return None if used["cpu_time"] is None else used

    def _error(self, execution: Any) -> dict[str, Any] | None:
        return error_of(*(get_value(execution, key) for key in ("status", "language", "stderr")))


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
    packages = fields.Integer(metadata={"description": "how many library packages the sandbox carries "
                                                      "(GET /codestudio/languages/{id}/packages)"})
    runtime = fields.String(allow_none=True, metadata={"description": "the toolchain, where a language has several "
                                                                      "(cpython, pypy; node, deno, bun)"})
    variant_of = fields.String(allow_none=True, metadata={
        "description": "the language this is another toolchain of (a run's `version` chooses it); null for a base"})
    variants = fields.List(fields.String(), metadata={"description": "the ids of this language's other toolchains"})


class PackageSchema(Schema):
    name = fields.String()
    version = fields.String()


class LanguagePackagesSchema(Schema):
    language = fields.String()
    packages = fields.List(fields.Nested(PackageSchema))
