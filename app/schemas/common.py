"""Fields and checks every API shares (marshmallow): text a database can hold, file names in
their normal form, program arguments exec can take, files and limits."""
from __future__ import annotations

import math
from datetime import UTC

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    validate,
)

from sandbox.filenames import FileNameError, check_layout, normal_name

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
            value = value.replace(tzinfo=UTC)
        return super()._serialize(value, attr, obj, **kwargs)


class FileSchema(Schema):
    name = FileName(required=True)
    content = Text(required=True)


class LimitsSchema(Schema):
    timeout = fields.Float(validate=validate.Range(min=0.1), metadata={"description": "wall seconds"})
    memory_mb = fields.Integer(validate=validate.Range(min=32))
