"""GET /codestudio/stats: the caller's usage totals."""
from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from flask import g

from ..auth import current_user
from ..extensions import db
from ..models import Execution, UsageRecord
from ..schemas import StatsSchema
from . import Blueprint

bp = Blueprint("stats", __name__, url_prefix="/codestudio", description="Usage statistics")


def _grouped(column):
    rows = db.session.execute(
        sa.select(column, sa.func.count(), sa.func.coalesce(sa.func.sum(UsageRecord.cpu_seconds), 0),
                  sa.func.coalesce(sa.func.sum(UsageRecord.cost), 0))
        .where(UsageRecord.user_id == g.user.id).group_by(column)
    ).all()
    return {key: {"executions": n, "cpu_seconds": round(float(cpu), 4), "cost": str(cost)}
            for key, n, cpu, cost in rows}


@bp.before_request
def authenticate():
    g.user = current_user()


@bp.route("/stats")
@bp.response(200, StatsSchema)
@bp.alt_response(401, response="UNAUTHORIZED")
def stats():
    """Totals, success rate, CPU seconds and cost, by language and by status."""
    by_status = _grouped(UsageRecord.status)
    finished = sum(v["executions"] for v in by_status.values())
    pending = db.session.execute(
        sa.select(sa.func.count()).where(Execution.user_id == g.user.id, Execution.status.in_(("queued", "running")))
    ).scalar_one()
    return {
        "tier": g.user.tier,
        "executions": finished,
        "pending": pending,
        "success_rate": round(by_status.get("success", {}).get("executions", 0) / finished, 4) if finished else None,
        "cpu_seconds": round(sum(v["cpu_seconds"] for v in by_status.values()), 4),
        "cost": str(sum((Decimal(v["cost"]) for v in by_status.values()), Decimal(0))),
        "by_language": _grouped(UsageRecord.language),
        "by_status": by_status,
    }
