"""GET /codestudio/stats: the caller's usage totals."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import g

from ..auth import current_user
from ..extensions import db
from ..models import UsageRecord
from ..schemas.runs import StatsSchema
from ..services.projects import storage_used
from ..services.quotas import counts, day_start
from ..services.tiers import limits_of, tier_of
from . import Blueprint

bp = Blueprint("stats", __name__, url_prefix="/codestudio", description="Usage statistics")


def _grouped(column, since=None):
    # compile lines of batches add CPU and cost, but are not executions
    query = sa.select(column, sa.func.count().filter(UsageRecord.kind == "run"),
                      sa.func.coalesce(sa.func.sum(UsageRecord.cpu_seconds), 0),
                      sa.func.coalesce(sa.func.sum(UsageRecord.cost), 0)).where(UsageRecord.user_id == g.user.id)
    if since is not None:
        query = query.where(UsageRecord.created_at >= since)
    rows = db.session.execute(query.group_by(column)).all()
    return {str(key): {"executions": n, "cpu_seconds": round(float(cpu), 4), "cost": str(cost)}
            for key, n, cpu, cost in rows}


def _quota(today: int, active: int) -> dict:
    tier = tier_of(g.user)
    storage = storage_used(g.user)
    return {
        "executions_today": {"used": today, "limit": tier["executions_per_day"],
                             "remaining": max(0, tier["executions_per_day"] - today)},
        "concurrent": {"used": active, "limit": tier["concurrent_executions"],
                       "remaining": max(0, tier["concurrent_executions"] - active)},
        "storage_bytes": {"used": storage, "limit": tier["storage_mb"] << 20,
                          "remaining": max(0, (tier["storage_mb"] << 20) - storage)},
        "requests_per_minute": tier["requests_per_minute"],
    }


@bp.before_request
def authenticate():
    current_user()


@bp.route("/stats")
@bp.response(200, StatsSchema)
@bp.alt_response(401, response="UNAUTHORIZED")
def stats():
    """Totals, success rate, CPU seconds and cost, by language, by status and by day (last 30
    days, UTC), with the tier's quotas used and remaining and its limits for one run."""
    by_status = _grouped(UsageRecord.status)
    finished = sum(v["executions"] for v in by_status.values())
    today, pending = counts(g.user)
    return {
        "tier": g.user.tier,
        "executions": finished,
        "pending": pending,
        "success_rate": round(by_status.get("success", {}).get("executions", 0) / finished, 4) if finished else None,
        "cpu_seconds": round(sum(v["cpu_seconds"] for v in by_status.values()), 4),
        "cost": str(sum((Decimal(v["cost"]) for v in by_status.values()), Decimal(0))),
        "by_language": _grouped(UsageRecord.language),
        "by_status": by_status,
        "by_day": _grouped(sa.func.date(UsageRecord.created_at), since=day_start() - timedelta(days=29)),
        "quota": _quota(today, pending),
        "limits": limits_of(g.user),
    }
