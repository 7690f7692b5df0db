"""The checks every way of running code shares (runs, Judge0/Piston runs, batches, projects):
the language, the limits against the caller's tier, sizes and the work dir's layout."""
from __future__ import annotations

from collections.abc import Iterable

from flask import current_app

from sandbox import Language, UnknownLanguage, filenames, registry

from ..errors import Problem
from ..models import User
from . import language_versions
from .run_request import Limits
from .tiers import refuse, tier_of
from .workers import live_languages


def resolve_language(name: str, version: str | None = None) -> Language:
    """The language a name (id or alias) means; with `version`, the toolchain of its family that it
    chooses (language_versions.choose)."""
    try:
        lang = registry().get(name)
    except UnknownLanguage:
        known = sorted(lang.id for lang in registry())
        raise Problem(422, "unknown_language", f"unknown language {name!r}; known: {', '.join(known)}",
                      language=name) from None
    return lang if version is None else _version(lang, version)


def _version(lang: Language, version: str) -> Language:
    chosen = language_versions.choose(lang, version, live_languages())
    if chosen is None:
        live = live_languages()
        offered = [f"{v.id} ({v.runtime or v.id} {live.get(v.id, 'not served now')})" for v in registry().family(lang)]
        raise Problem(422, "unknown_version", f"no {lang.id} toolchain matches version {version!r}; "
                      f"there are: {', '.join(offered)}", language=lang.id, version=version)
    return chosen


def effective_limits(user: User, requested: Limits) -> tuple[float, int]:
    """Requested limits, or defaults clamped to the tier; above the tier maximum is refused."""
    cfg, tier = current_app.config, tier_of(user)
    timeout = requested.timeout
    if timeout is None:
        timeout = min(cfg["RUN_DEFAULT_TIMEOUT"], tier["max_timeout"])
    memory = requested.memory_mb
    if memory is None:
        memory = min(cfg["RUN_DEFAULT_MEMORY_MB"], tier["max_memory_mb"])
    for field, value in (("timeout", timeout), ("memory_mb", memory)):
        if value > tier[f"max_{field}"]:
            problem = refuse(422, "limit_exceeded", user, f"max_{field}", value, f"{field}={value} is too large")
            problem.extra["limit"] = field
            raise problem
    return float(timeout), int(memory)


def check_sizes(code: str, stdin: str, file_contents: Iterable[str]) -> None:
    cfg = current_app.config
    if len(code.encode()) > cfg["MAX_CODE_BYTES"]:
        raise Problem(413, "code_too_large", f"code is larger than {cfg['MAX_CODE_BYTES']} bytes")
    if len(stdin.encode()) > cfg["MAX_STDIN_BYTES"]:
        raise Problem(413, "stdin_too_large", f"stdin is larger than {cfg['MAX_STDIN_BYTES']} bytes")
    if sum(len(content.encode()) for content in file_contents) > cfg["MAX_CODE_BYTES"]:
        raise Problem(413, "files_too_large", f"files total more than {cfg['MAX_CODE_BYTES']} bytes")


def check_work_dir_layout(names: Iterable[str], main: str) -> None:
    """The entry file and the others fit one work dir: in their normal form (stored project files
    may predate it) no name twice and no file where another needs a directory."""
    try:
        filenames.check_layout([main, *names])
    except filenames.FileNameError as exc:
        raise Problem(422, "invalid_file_name", f"{exc} (the entry file is {main!r})", file=exc.name) from None
