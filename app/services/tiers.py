"""Tier lookups: a user's limits, and the smallest tier that would allow a refused request."""
from __future__ import annotations

from flask import current_app

from sandbox import CompileCap, Language

from ..errors import Problem


def tier_of(user) -> dict:
    tiers = current_app.config["TIERS"]
    return tiers.get(user.tier) or tiers["free"]


def compile_cap(tier: dict) -> CompileCap:
    """The most a compile gets on this tier: compile-time code is the caller's code."""
    return CompileCap(float(tier["compile_timeout"]), int(tier["compile_memory_mb"]))


def compile_caps(tiers: dict[str, dict]) -> dict[str, CompileCap]:
    """Every tier's compile cap, smallest tier first (what the workers are configured with)."""
    return {name: compile_cap(tier) for name, tier in tiers.items()}


def limits_of(user) -> dict:
    """The tier's limits for one run: the largest a request may ask for, and what a compile gets
    at most (a language whose own compile limits are lower keeps those)."""
    tier = tier_of(user)
    return {"timeout": tier["max_timeout"], "memory_mb": tier["max_memory_mb"],
            "compile_timeout": tier["compile_timeout"], "compile_memory_mb": tier["compile_memory_mb"]}


def compile_limits_for(user, lang: Language):
    """The compile limits a run of `lang` gets for this user."""
    return lang.compile_limits.capped(compile_cap(tier_of(user)))


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
