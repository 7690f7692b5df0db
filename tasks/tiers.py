"""A run's compile limits follow its owner's tier. The tier comes with the claim; the tiers'
compile caps (config/tiers.toml `compile_timeout` / `compile_memory_mb`) come in the Celery
configuration (`codestudio_compile_caps`, smallest tier first), so the worker needs no API code."""
from __future__ import annotations

from celery import current_app

from sandbox import CompileCap


def compile_cap(tier: str) -> CompileCap:
    """The tier's compile cap; a tier the configuration does not know gets the smallest (as the
    API treats an unknown tier as the free one)."""
    return _caps().get(tier) or smallest_compile_cap()


def smallest_compile_cap() -> CompileCap:
    """The limits compile jails started ahead of need get before any compile has shown which
    tier's this worker process sees (a jail takes only a compile of exactly its limits)."""
    return next(iter(_caps().values()))


def _caps() -> dict[str, CompileCap]:
    caps: dict[str, CompileCap] = current_app.conf.codestudio_compile_caps
    return caps
