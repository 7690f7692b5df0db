"""Request and response schemas of the batch grading API."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from tasks.grading import COMPARE_MODES, GRADED

from .artifacts import ArtifactList
from .common import (
    MAX_FILES,
    FileSchema,
    LimitsSchema,
    Text,
    UtcDateTime,
    check_args,
)

MAX_TESTS = 200
MAX_SUBMISSIONS = 2000
NAME = validate.Length(min=1, max=200)


def _unique(values: list[str], what: str, field: str) -> None:
    seen: set[str] = set()
    dupes: set[str] = set()
    for value in values:
        (dupes if value in seen else seen).add(value)
    if dupes:
        raise ValidationError(f"duplicate {what}: {sorted(dupes)[:5]}", field)


class BatchTestSchema(Schema):
    name = Text(required=True, validate=NAME)
    stdin = Text(load_default="")
    expected_output = Text(required=True)
    points = fields.Float(load_default=1.0, validate=validate.Range(min=0, max=1e6))
    args = fields.List(Text(), load_default=list, validate=check_args)
    limits = fields.Nested(LimitsSchema, load_default=dict, metadata={"description": "overrides the batch's"})


class BatchSubmissionSchema(Schema):
    id = Text(required=True, validate=NAME, metadata={"description": "the caller's name for it (a student id)"})
    code = Text(load_default=None, metadata={"description": "the entry file; without it the first of `files`"})
    files = fields.List(fields.Nested(FileSchema), load_default=list, validate=validate.Length(max=MAX_FILES))

    @validates_schema
    def _code_or_files(self, data, **kwargs):
        if data.get("code") is None and not data.get("files"):
            raise ValidationError("send `code` or at least one file", "code")
        _unique([f["name"] for f in data.get("files", [])], "file names", "files")


class BatchRequestSchema(Schema):
    language = Text(required=True, validate=validate.Length(min=1, max=64))
    tests = fields.List(fields.Nested(BatchTestSchema), required=True, validate=validate.Length(min=1, max=MAX_TESTS))
    submissions = fields.List(fields.Nested(BatchSubmissionSchema), required=True,
                              validate=validate.Length(min=1, max=MAX_SUBMISSIONS))
    compare = fields.String(load_default="trim", validate=validate.OneOf(COMPARE_MODES), metadata={
        "description": "exact; trim (trailing whitespace per line and trailing blank lines ignored); "
                       "tokens (whitespace-separated tokens equal); float (numbers within abs_tol/rel_tol)"})
    abs_tol = fields.Float(load_default=1e-6, validate=validate.Range(min=0, max=1e9))
    rel_tol = fields.Float(load_default=1e-6, validate=validate.Range(min=0, max=1))
    limits = fields.Nested(LimitsSchema, load_default=dict)

    @validates_schema
    def _unique_names(self, data, **kwargs):
        _unique([t["name"] for t in data.get("tests", [])], "test names", "tests")
        _unique([s["id"] for s in data.get("submissions", [])], "submission ids", "submissions")


class ProgressSchema(Schema):
    done = fields.Integer()
    total = fields.Integer()
    cancelled = fields.Integer()
    percent = fields.Float()


class CaseSchema(Schema):
    test = fields.String()
    verdict = fields.String(
        metadata={"description": " | ".join((*GRADED, "queued", "running", "cancelled", "stopped"))})
    points = fields.Float()
    time = fields.Float(allow_none=True, metadata={"description": "CPU seconds"})
    wall_time = fields.Float(allow_none=True)
    memory_kb = fields.Integer(allow_none=True)
    returncode = fields.Integer(allow_none=True)
    stdout = fields.String(allow_none=True, metadata={"description": "the first KiB"})
    stderr = fields.String(allow_none=True, metadata={"description": "the first KiB"})
    diff = fields.String(allow_none=True, metadata={"description": "expected vs got, for a wrong answer"})
    message = fields.String(allow_none=True)
    artifacts = ArtifactList(metadata={"description": "files it wrote under /work/out/"})
    artifacts_note = fields.String(allow_none=True, metadata={"description": "why not every file was kept"})


class CompileSchema(Schema):
    status = fields.String(allow_none=True)
    output = fields.String(allow_none=True)
    time = fields.Float(allow_none=True, metadata={"description": "CPU seconds"})
    count = fields.Integer(metadata={"description": "compiles run (1; more only if a worker was lost)"})


class SubmissionResultSchema(Schema):
    id = fields.String()
    status = fields.String()
    compile = fields.Nested(CompileSchema)
    score = fields.Float()
    max_score = fields.Float()
    results = fields.List(fields.Nested(CaseSchema))


class BatchTestSummarySchema(Schema):
    name = fields.String()
    points = fields.Float()


class BatchSchema(Schema):
    id = fields.String()
    status = fields.String(metadata={"description": "queued | running | done | cancelled"})
    language = fields.String()
    compare = fields.String()
    progress = fields.Nested(ProgressSchema)
    verdicts = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": "cases per verdict (or queued/running/cancelled) over the whole batch"})
    tests = fields.List(fields.Nested(BatchTestSummarySchema))
    max_score = fields.Float()
    created_at = UtcDateTime()
    started_at = UtcDateTime(allow_none=True)
    finished_at = UtcDateTime(allow_none=True)
    submissions = fields.List(fields.Nested(SubmissionResultSchema), metadata={
        "description": "one page of submissions, in the order sent"})
    next_cursor = fields.String(allow_none=True, metadata={"description": "the next page's `cursor`; null: the last"})


class BatchArgsSchema(Schema):
    results = fields.Boolean(load_default=True, metadata={
        "description": "false: status and progress only (cheap to poll)"})
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100), metadata={
        "description": "submissions per page (fewer when they would hold more than 1000 test results)"})
    cursor = fields.String(load_default=None, validate=validate.Length(max=64))


class ReportArgsSchema(Schema):
    format = fields.String(load_default="csv", validate=validate.OneOf(("csv", "json")))
    limit = fields.Integer(load_default=500, validate=validate.Range(min=1, max=2000), metadata={
        "description": "JSON: rows per page (fewer when they would hold more than 20000 verdicts)"})
    cursor = fields.String(load_default=None, validate=validate.Length(max=64))
