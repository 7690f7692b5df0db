"""Piston v2 API (`/api/v2`): `GET /runtimes` and `POST /execute`, answered by our workers.

Callers authenticate with one of our API keys (`Authorization: <key>` as Piston's public
instance takes it, or Bearer / X-API-Key), so runs are isolated, rate-limited and billed per user.
Errors are Piston's `{"message": …}` with Piston's status codes."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from sandbox import ExecutionStatus as S
from sandbox import Language, registry
from sandbox.verdict import signal_name

from ..auth import current_user
from ..jsonbody import request_json
from ..models import Execution
from ..ratelimit import caller_rate, limiter
from ..services import runs
from ..services.workers import live_languages
from . import foreign_errors
from .piston_job import PistonError, parse, piston_name, version_of

bp = Blueprint("piston", __name__, url_prefix="/api/v2")

# our status -> Piston's (status, signal) for a stage that did not end normally
STATUS: dict[str, tuple[str, str | None]] = {S.TIMEOUT: ("TO", "SIGKILL"), S.MEMORY_LIMIT: ("SG", "SIGKILL"),
                                              S.INTERNAL_ERROR: ("XX", None)}


@bp.errorhandler(PistonError)
def piston_error(exc: PistonError):
    return jsonify(message=exc.message), exc.status


foreign_errors(bp, "message")


@bp.route("/runtimes")  # public, as in Piston
def runtimes():
    """The languages live workers run now, with the version they run."""
    live = live_languages()
    return jsonify([_runtime(lang, live[lang.id]) for lang in registry() if lang.id in live])


def _runtime(lang: Language, version: str) -> dict:
    """One runtime; where a language has several (Node, Deno, Bun), each says which it is."""
    entry = {"language": piston_name(lang), "version": str(version_of(version)),
             "aliases": [a for a in (lang.id, *lang.aliases) if a != piston_name(lang)]}
    if lang.runtime:
        entry["runtime"] = lang.runtime
    return entry


@bp.route("/execute", methods=["POST"])
@limiter.shared_limit(caller_rate, scope="api")  # the caller's one budget across the API
def execute():
    if not request.is_json:
        raise PistonError("requests must be of type application/json", 415)
    try:
        body = request_json()
    except ValueError:  # also nesting too deep
        body = None
    if body is None:
        raise PistonError("request body is not valid JSON")
    user = current_user()
    run, lang, version = parse(body, user)
    execution = runs.submit(user, run)
    execution = runs.wait_for(execution, runs.wait_seconds(execution))
    if not runs.is_final(execution):
        raise PistonError(f"still running after the wait limit; see /codestudio/executions/{execution.id}", 504)
    return jsonify(result(execution, lang, version))


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1000)


def run_stage(row: Execution) -> dict:
    status, sig = STATUS.get(row.status, (None, None))
    if row.status == S.OUTPUT_LIMIT:
        status, sig = ("EL" if row.stderr_truncated and not row.stdout_truncated else "OL"), "SIGKILL"
    elif row.status == S.ERROR:
        sig = signal_name(row.returncode or 0)
        status = "SG" if sig else "RE"
    stdout, stderr = row.stdout or "", row.stderr or ""
    return {"stdout": stdout, "stderr": stderr, "output": stdout + stderr,
            "code": row.returncode if status not in ("TO", "OL", "EL") else None, "signal": sig,
            "message": row.message, "status": status, "cpu_time": _ms(row.cpu_time),
            "wall_time": _ms(row.execution_time), "memory": (row.memory_kb or 0) * 1024}


def compile_stage(row: Execution) -> dict:
    failed = row.status == S.COMPILE_ERROR
    output = row.compile_output or ""
    return {"stdout": "", "stderr": output, "output": output, "code": 1 if failed else 0, "signal": None,
            "message": row.message if failed else None, "status": "RE" if failed else None,
            "cpu_time": _ms(row.compile_cpu_time), "wall_time": _ms(row.compile_wall_time),
            "memory": None if row.compile_memory_kb is None else row.compile_memory_kb * 1024}


def result(row: Execution, lang, version: str) -> dict:
    body: dict[str, object] = {"language": piston_name(lang), "version": str(version_of(version))}
    if lang.compile:
        compiled = compile_stage(row)
        body["compile"] = compiled
        if row.status == S.COMPILE_ERROR:  # Piston copies the compile stage into run
            body["run"] = dict(compiled)
            return body
    body["run"] = run_stage(row)
    return body
