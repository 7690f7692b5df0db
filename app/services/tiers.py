"""Tier lookups: a user's limits, and the smallest tier that would allow a refused request."""
from __future__ import annotations

from flask import current_app

from ..errors import Problem


def tier_of(user) -> dict:
    tiers = current_app.config["TIERS"]
    return tiers.get(user.tier) or tiers["free"]


def upgrade_for(limit: str, needed) -> str | None:
    """The first tier (config order, smallest first) whose `limit` allows `needed`."""
    for name, tier in current_app.config["TIERS"].items():
        if tier.get(limit, 0) >= needed:
            return name
    return None


def refuse(status: int, code: str, user, limit: str, needed, detail: str, headers: dict | None = None) -> Problem:
    """A refusal naming the limit, the caller's tier and the tier that would allow it."""
    maximum = tier_of(user)[limit]
    upgrade = upgrade_for(limit, needed)
    hint = f"; the {upgrade} tier allows it" if upgrade and upgrade != user.tier else ""
    return Problem(status, code, f"{detail} (the {user.tier} tier allows {maximum}){hint}", limit=limit,
                   maximum=maximum, tier=user.tier, upgrade_to=upgrade if upgrade != user.tier else None,
                   headers=headers or {})
