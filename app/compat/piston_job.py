"""Reading a Piston v2 execute request into one of our run requests, with Piston's 400 messages
(`{"message": …}`), minus Piston's bugs: a path-escaping file name and a limit of 0 or below are
400s, not a 500 or a silently ignored value."""
from __future__ import annotations

import base64
import binascii
import math
import re
from pathlib import PurePosixPath

import semantic_version as semver
from flask import current_app
from marshmallow import ValidationError

from sandbox import UnknownLanguage, registry
from sandbox.registry import Language

from ..schemas.common import check_args, check_file_layout, check_file_name, check_text, is_number
from ..services.language_versions import by_range
from ..services.language_versions import version_of as version_of  # the Piston modules' version parsing
from ..services.run_request import Limits, RunRequest, SourceFile
from ..services.tiers import compile_limits_for, tier_of
from ..services.workers import live_languages

PISTON_NAMES = {"cpp": "c++"}  # where Piston names a language differently from our id
DEFAULT_RUN_MS = 3000  # Piston's defaults
LIMIT_FIELDS = ("compile_timeout", "run_timeout", "compile_cpu_time", "run_cpu_time",
                "compile_memory_limit", "run_memory_limit")


class PistonError(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message, self.status = message, status


def piston_name(lang: Language) -> str:
    """A variant (Deno, PyPy) is listed under its base's name, as Piston lists its runtimes."""
    base = lang.variant_of or lang.id
    return PISTON_NAMES.get(base, base)


def _candidates(name: str, lang: Language) -> list[Language]:
    """The language name (`javascript`) means every runtime of it, base first; an alias (`node`,
    `deno`, `js`) only the one it names, as in Piston."""
    family = registry().family(lang)
    return family if name.strip().lower() == piston_name(lang) else [lang]


def runtime(language: str, selector: str) -> tuple[Language, str]:
    """The runtime and its live version matching Piston's SemVer selector (`*`, `3.x`, `^3.10`…);
    where the base language's version matches too, the base."""
    try:
        lang = registry().get(language)
        semver.NpmSpec(selector)
    except (UnknownLanguage, ValueError):
        raise PistonError(f"{language}-{selector} runtime is unknown") from None
    live = live_languages()
    chosen = by_range(_candidates(language, lang), selector, live)
    if chosen is None:
        raise PistonError(f"{language}-{selector} runtime is unknown")
    return chosen, live[chosen.id]


def _decode(file: dict, index: int) -> str:
    content, encoding = file["content"], file.get("encoding") or "utf8"
    try:
        if encoding == "base64":
            return base64.b64decode(content, validate=True).decode("utf-8")
        if encoding == "hex":
            return bytes.fromhex(content).decode("utf-8")
    except (binascii.Error, ValueError):
        raise PistonError(f"files[{index}].content is not valid {encoding} UTF-8 text") from None
    return content


def _text(value: str, field: str) -> str:
    try:
        return check_text(value)
    except ValidationError as exc:
        raise PistonError(f"{field} {exc.messages[0]}") from None


def _files(body: dict, lang: Language) -> tuple[str, str | None, list[dict]]:
    """(main code, main file name when it suits the language, the other files)."""
    files = body.get("files")
    if not isinstance(files, list) or not files:
        raise PistonError("files is required as an array")
    named = []
    for i, file in enumerate(files):
        if not isinstance(file, dict) or not isinstance(file.get("content"), str):
            raise PistonError(f"files[{i}].content is required as a string")
        name = file.get("name") or f"file{i}.code"
        if not isinstance(name, str):
            raise PistonError(f"files[{i}].name must be a string")
        try:
            name = check_file_name(name)  # its normal form: './a.py' and 'a.py' are one file
        except ValidationError as exc:  # e.g. '../x': Piston answers 500 here
            raise PistonError(f"files[{i}].name is not allowed: {' '.join(exc.messages)}") from None
        named.append({"name": name, "content": _text(_decode(file, i), f"files[{i}].content")})
    if lang.entry_regex:
        named = [_named_by_content(f, lang) for f in named]
    main, others = named[0], named[1:]
    try:
        check_file_layout([f["name"] for f in named])
    except ValidationError as exc:
        raise PistonError(f"files are not allowed: {' '.join(exc.messages)}") from None
    entry = main["name"] if main["name"].endswith(lang.extension) else None
    return main["content"], entry, others


def _named_by_content(file: dict, lang: Language) -> dict:
    """Piston's Java runs a file whatever it is called; javac wants a public class in a file of
    its name: such a file is renamed after its class (in the same directory)."""
    match = re.search(lang.entry_regex, file["content"])
    if not match or not file["name"].endswith(lang.extension):
        return file
    directory = PurePosixPath(file["name"]).parent
    return {**file, "name": str(directory / (match.group(1) + lang.extension))}


def _limit(body: dict, field: str, maximum: float) -> float | None:
    value = body.get(field)
    if value is None:
        return None
    if not is_number(value):
        raise PistonError(f"If specified, {field} must be a number")
    if value <= 0:
        raise PistonError(f"{field} must be a positive number")
    if value > maximum:
        raise PistonError(f"{field} cannot exceed the configured limit of {int(maximum)}")
    return value


def _limits(body: dict, user, lang: Language) -> Limits:
    tier = tier_of(user)
    run_ms, memory_bytes = tier["max_timeout"] * 1000, tier["max_memory_mb"] << 20
    compiling = compile_limits_for(user, lang)  # the language's, clamped by the tier
    compile_ms = max(compiling.timeout * 1000, run_ms) if lang.compile else run_ms
    maxima = {"compile_timeout": compile_ms, "compile_cpu_time": compile_ms, "run_timeout": run_ms,
              "run_cpu_time": run_ms, "compile_memory_limit": compiling.memory_mb << 20,
              "run_memory_limit": memory_bytes}
    given = {field: _limit(body, field, maxima[field]) for field in LIMIT_FIELDS}
    run_times = [v for v in (given["run_timeout"], given["run_cpu_time"]) if v is not None] or [DEFAULT_RUN_MS]
    memory = given["run_memory_limit"]
    memory_mb = None if memory is None else max(32, math.ceil(memory / (1 << 20)))
    return Limits(timeout=min(run_times) / 1000, memory_mb=memory_mb)


def parse(body, user) -> tuple[RunRequest, Language, str]:
    """Our run request (waited), the language and the version that will run it."""
    if not isinstance(body, dict):
        raise PistonError("language is required as a string")
    for field in ("language", "version"):
        if not isinstance(body.get(field), str):
            raise PistonError(f"{field} is required as a string")
    lang, version = runtime(body["language"], body["version"])
    code, entry, others = _files(body, lang)
    stdin, args = body.get("stdin", ""), body.get("args", [])
    if not isinstance(stdin, str):
        raise PistonError("If specified, stdin must be a string")
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise PistonError("If specified, args must be an array of strings")
    try:
        check_args(args)  # the limits of /codestudio/run: exec must be able to take them
    except ValidationError as exc:
        raise PistonError(f"args {exc.messages[0]}") from None
    stdin = _text(stdin, "stdin")
    if not stdin.endswith("\n"):
        stdin += "\n"  # Piston appends the newline, to an empty stdin too; line-reading programs rely on it
    if len(code.encode()) > current_app.config["MAX_CODE_BYTES"]:
        raise PistonError("files[0].content is too large", 413)
    request = RunRequest(language=lang.id, code=code, entry=entry, stdin=stdin, args=tuple(args),
                         files=tuple(SourceFile(f["name"], f["content"]) for f in others),
                         limits=_limits(body, user, lang), wait=True)
    return request, lang, version
