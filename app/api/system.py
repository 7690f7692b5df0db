"""Languages, health and readiness."""
from __future__ import annotations

import sqlalchemy as sa
from flask import current_app

from sandbox import registry
from sandbox.registry import UnknownLanguage

from ..errors import Problem, problem_response
from ..extensions import db
from ..schemas.runs import LanguagePackagesSchema, LanguageSchema, StatusSchema
from ..services.workers import live_languages, live_packages
from . import Blueprint

bp = Blueprint("system", __name__, description="Languages and health")


@bp.route("/codestudio/languages")
@bp.doc(security=[])
@bp.response(200, LanguageSchema(many=True))
def languages():
    """Every defined language; `available` when a live worker serves it, with its version. Another
    toolchain of a language (PyPy, Deno, Bun) is listed too, `variant_of` naming its base."""
    live, names = live_languages(), live_languages(kind="names")
    packages = live_languages(kind="packages")
    return [
        {"id": lang.id, "name": names.get(lang.id, lang.name), "version": live.get(lang.id),
         "aliases": list(lang.aliases),
         "extension": lang.extension, "available": lang.id in live, "packages": len(packages.get(lang.id, {})),
         "runtime": lang.runtime or None, "variant_of": lang.variant_of,
         "variants": [variant.id for variant in registry().variants(lang.id)]}
        for lang in registry()
    ]


@bp.route("/codestudio/languages/<language_id>/packages")
@bp.doc(security=[])
@bp.response(200, LanguagePackagesSchema)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(503, response="SERVICE_UNAVAILABLE")
def language_packages(language_id: str):
    """The library packages importable in the language's sandbox (name, version), as its live
    workers advertise them; empty for a language without a library layer."""
    try:
        lang = registry().get(language_id)
    except UnknownLanguage:
        raise Problem(404, "unknown_language", f"unknown language {language_id!r}") from None
    packages = live_packages(lang.id)
    if packages is None:
        raise Problem(503, "no_worker", f"no worker is serving {lang.id} right now; retry later", language=lang.id)
    return {"language": lang.id,
            "packages": [{"name": name, "version": version} for name, version in packages.items()]}


@bp.route("/healthz")
@bp.doc(security=[])
@bp.response(200, StatusSchema)
def healthz():
    """The process is up."""
    return {"status": "ok"}


def _check(name: str, probe) -> str | None:
    try:
        probe()
        return None
    except Exception as exc:  # any failure means not ready
        return f"{name}: {type(exc).__name__}"


def _broker_ping() -> None:
    with current_app.extensions["celery"].connection_for_write() as conn:
        conn.ensure_connection(max_retries=1)


@bp.route("/readyz")
@bp.doc(security=[])
@bp.response(200, StatusSchema)
@bp.alt_response(503, response="SERVICE_UNAVAILABLE")
def readyz():
    """Database and broker reachable."""
    failures = [f for f in (
        _check("database", lambda: db.session.execute(sa.text("SELECT 1"))),
        _check("redis", lambda: current_app.extensions["redis"].ping()),
        _check("broker", _broker_ping),
    ) if f]
    db.session.rollback()
    if failures:
        return problem_response(503, "not_ready", "; ".join(failures), checks=failures)
    return {"status": "ready"}
