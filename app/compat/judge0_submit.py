"""Reading Judge0 submissions into our run requests, with Judge0's defaults and ranges and its
`{"field": ["message"]}` errors. Networking and compiler options cannot be turned on."""
from __future__ import annotations

import base64
import binascii
import io
import math
import shlex
import zipfile

from flask import current_app
from marshmallow import ValidationError

from sandbox import registry
from tasks.callback_addresses import CallbackRefused
from tasks.callbacks import check_destination
from tasks.execution import most_runs

from ..schemas.common import MAX_FILES, check_args, check_file_layout, check_file_name, check_text, is_number
from ..services.run_request import Limits, RunRequest, SourceFile
from ..services.tiers import tier_of
from .judge0_ids import LANGUAGES

# field: (default, minimum, maximum), Judge0 CE 1.13.1's configuration
NUMBERS = {
    "cpu_time_limit": (5.0, 0.0, 15.0), "cpu_extra_time": (1.0, 0.0, 5.0), "wall_time_limit": (10.0, 1.0, 20.0),
    "memory_limit": (128000, 2048, 512000), "stack_limit": (64000, 0, 128000),
    "max_processes_and_or_threads": (60, 1, 120), "max_file_size": (1024, 0, 4096), "number_of_runs": (1, 1, 20),
}
FLAGS = {"enable_per_process_and_thread_time_limit": False, "enable_per_process_and_thread_memory_limit": False,
         "redirect_stderr_to_stdout": False, "enable_network": False}
ENCODED = ("source_code", "stdin", "expected_output")


class FieldErrors(Exception):
    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


def _text(body: dict, field: str, encoded: bool, errors: dict) -> str | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        errors[field] = ["must be a string"]
        return None
    try:
        raw = base64.b64decode("".join(value.split()), validate=True) if encoded else value.encode("utf-8")
        return check_text(raw.decode("utf-8"))
    except ValidationError as exc:
        errors[field] = exc.messages
    except (binascii.Error, ValueError):
        errors[field] = ["is not valid base64 of UTF-8 text" if encoded else "must be valid Unicode text"]
    return None


def _number(body: dict, field: str, errors: dict):
    default, low, high = NUMBERS[field]
    value = body.get(field)
    if value is None:
        return default
    if not is_number(value):
        errors[field] = ["is not a number"]
    elif not low <= value <= high:
        errors[field] = [f"must be greater than or equal to {low} and less than or equal to {high}"]
    elif field == "cpu_time_limit" and value <= 0:
        errors[field] = ["must be greater than 0"]
    return value


def _flags(body: dict, errors: dict) -> dict:
    flags = {}
    for field, default in FLAGS.items():
        value = body.get(field, default)
        if value is None:
            value = default
        if not isinstance(value, bool):
            errors[field] = ["is not a boolean"]
        flags[field] = value
    if flags["enable_network"] is True:
        errors["enable_network"] = ["enabling network is not allowed"]
    return flags


def _files(body: dict, errors: dict) -> list[dict]:
    """additional_files: a base64 .zip, unpacked here into named UTF-8 files (bounded, names checked)."""
    if body.get("additional_files") in (None, ""):
        return []
    try:
        archive = zipfile.ZipFile(io.BytesIO(base64.b64decode("".join(str(body["additional_files"]).split()),
                                                               validate=True)))
        members = [m for m in archive.infolist() if not m.is_dir()]
        limit = current_app.config["MAX_CODE_BYTES"]
        if len(members) > MAX_FILES or sum(m.file_size for m in members) > limit:
            raise ValueError(f"at most {MAX_FILES} files and {limit} bytes")
        files = []
        for member in members:
            name = check_file_name(member.filename)  # its normal form: './a.py' and 'a.py' are one file
            with archive.open(member) as fh:
                files.append({"name": name, "content": fh.read(limit + 1).decode("utf-8")})
        check_file_layout([f["name"] for f in files])
        return files
    except (binascii.Error, zipfile.BadZipFile, ValueError, ValidationError, UnicodeDecodeError) as exc:
        errors["additional_files"] = [f"is not a usable base64 zip of UTF-8 text files: {exc}"]
        return []


def _options(body: dict, errors: dict) -> tuple[list[str], str | None]:
    if body.get("compiler_options"):
        errors["compiler_options"] = ["setting compiler options is not allowed"]
    args, raw = [], body.get("command_line_arguments")
    if raw is not None:
        try:
            if not isinstance(raw, str) or len(raw) > 512:
                raise ValueError("must be a string of at most 512 characters")
            args = shlex.split(raw)  # Judge0 hands it to a shell; we split it the same way, run no shell
            check_args(args)  # the limits of /codestudio/run: exec must be able to take them
        except ValidationError as exc:
            errors["command_line_arguments"] = exc.messages
        except ValueError as exc:
            errors["command_line_arguments"] = [str(exc)]
    callback = body.get("callback_url")
    if callback is not None and (not isinstance(callback, str) or len(callback) > 2048):
        errors["callback_url"] = ["must be a URL of at most 2048 characters"]
    elif callback is not None:
        try:
            check_destination(callback)  # where the host leads now; the worker checks again when sending
        except CallbackRefused as exc:
            errors["callback_url"] = [str(exc)]
    return args, callback


def _limits(user, numbers: dict, errors: dict) -> Limits:
    tier = tier_of(user)
    timeout = min(numbers["cpu_time_limit"] + numbers["cpu_extra_time"], numbers["wall_time_limit"])
    memory_mb = max(32, math.ceil(numbers["memory_limit"] / 1024))
    if timeout > tier["max_timeout"]:
        errors["cpu_time_limit"] = [f"the {user.tier} tier allows at most {tier['max_timeout']} s"]
    if memory_mb > tier["max_memory_mb"]:
        errors["memory_limit"] = [f"the {user.tier} tier allows at most {tier['max_memory_mb'] * 1024} KB"]
    return Limits(timeout=float(timeout), memory_mb=memory_mb)


def _runs(user, language: str, numbers: dict, timeout: float, errors: dict) -> int:
    """number_of_runs: each run counts against the daily quota, and all of them (compiled once,
    run one after another) must fit in the one task that runs them."""
    runs, per_day = int(numbers["number_of_runs"]), tier_of(user)["executions_per_day"]
    fitting = most_runs(registry().get(language), timeout)
    if runs > per_day:
        errors["number_of_runs"] = [f"the {user.tier} tier allows at most {per_day} executions a day"]
    elif runs > fitting:
        errors["number_of_runs"] = [(f"at most {fitting} runs with a time limit of {timeout:g} s fit in one "
                                     "submission; lower number_of_runs or the time limits")]
    return runs


def _language(language_id: object, errors: dict[str, list[str]]) -> str | None:
    """Our language id for Judge0's `language_id`; None, with the error noted, if it names none."""
    if language_id is None:
        errors["language_id"] = ["can't be blank"]
    elif isinstance(language_id, bool) or not isinstance(language_id, int) or language_id not in LANGUAGES:
        errors["language_id"] = [f"language with id {language_id} doesn't exist"]
    else:
        return LANGUAGES[language_id][0]
    return None


def parse(body, user, encoded: bool, wait: bool = False) -> tuple[RunRequest, dict]:
    """(our run request, the Judge0 row's fields); raises FieldErrors like Judge0's 422."""
    if not isinstance(body, dict):
        raise FieldErrors({"submission": ["must be a JSON object"]})
    errors: dict[str, list[str]] = {}
    texts = {field: _text(body, field, encoded, errors) for field in ENCODED}
    language_id = body.get("language_id")
    language = _language(language_id, errors)
    if texts["source_code"] is None and "source_code" not in errors:
        errors["source_code"] = ["can't be blank"]
    numbers = {field: _number(body, field, errors) for field in NUMBERS}
    flags = _flags(body, errors)
    files = _files(body, errors)
    args, callback = _options(body, errors)
    limits = _limits(user, numbers, errors) if not errors else Limits()
    runs = _runs(user, language, numbers, limits.timeout or 0.0, errors) if language and not errors else 1
    if errors or language is None:  # no language: its error is in `errors`
        raise FieldErrors(errors)
    run = RunRequest(language=language, code=texts["source_code"], stdin=texts["stdin"] or "",
                     args=tuple(args), files=tuple(SourceFile(f["name"], f["content"]) for f in files),
                     limits=limits, wait=wait, runs=runs)
    settings = {**numbers, **flags, "command_line_arguments": body.get("command_line_arguments"),
                "compiler_options": None, "additional_files": body.get("additional_files")}
    row = {"language_id": language_id, "expected_output": texts["expected_output"], "settings": settings,
           "callback_url": callback}
    return run, row
