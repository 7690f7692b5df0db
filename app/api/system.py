"""Languages, health and readiness."""
from __future__ import annotations

import sqlalchemy as sa
from flask import current_app

from sandbox import registry

from ..errors import problem_response
from ..extensions import db
from ..schemas.runs import LanguageSchema, StatusSchema
from ..services.workers import live_languages
from . import Blueprint

bp = Blueprint("system", __name__, description="Languages and health")


@bp.route("/codestudio/languages")
@bp.doc(security=[])
@bp.response(200, LanguageSchema(many=True))
def languages():
    """Every defined language; `available` when a live worker serves it, with its version."""
    live, names = live_languages(), live_languages(kind="names")
    return [
        {"id": lang.id, "name": names.get(lang.id, lang.name), "version": live.get(lang.id),
         "aliases": list(lang.aliases),
         "extension": lang.extension, "available": lang.id in live}
        for lang in registry()
    ]


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
