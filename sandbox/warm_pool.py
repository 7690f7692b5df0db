"""How many compile jails a worker process keeps started ahead of need, per language.

Enough to keep up with the recent compile rate: while one warms up, the compiles arriving in that
time each need one too (rate × warm-up time). At least one per language that has them, at most
`max_idle`, and all of a process's warm jails together within a share of the sandbox's memory.
"""
from __future__ import annotations

import math
import os
import time
from collections import deque
from dataclasses import dataclass

from .settings import SandboxSettings

WINDOW_SECONDS = 60.0  # the compile rate is taken over this much recent time
MAX_IDLE = 4  # per language and worker process: each holds a warmed-up JVM
MEMORY_SHARE = 4  # a worker process's warm jails may hold 1/4 of the sandbox memory budget
DEFAULT_WARM_UP_CPU = 2.0  # CPU seconds a warm-up takes, until one has been measured
WALL_PER_CPU = 2.0  # a warm-up runs on idle CPU only: it takes longer than its CPU time
SMOOTHING = 0.3  # weight of the newest warm-up measurement


@dataclass(frozen=True)
class PoolPolicy:
    max_idle: int = MAX_IDLE
    memory_mb: int | None = None  # None: no memory bound beyond each jail's own limit

    @classmethod
    def for_settings(cls, settings: SandboxSettings) -> PoolPolicy:
        """SANDBOX_WARM_POOL_MAX overrides the per-language bound (1: one warm jail per language)."""
        total = settings.total_memory_mb
        return cls(max_idle=max(1, int(os.environ.get("SANDBOX_WARM_POOL_MAX") or MAX_IDLE)),
                   memory_mb=total // MEMORY_SHARE if total else None)


class Demand:
    """Compiles per language this process saw recently, and the CPU a warm-up of each takes."""

    def __init__(self) -> None:
        self._seen: dict[str, deque[float]] = {}
        self._warm_up_cpu: dict[str, float] = {}

    def record(self, lang_id: str, now: float | None = None) -> None:
        seen = self._seen.setdefault(lang_id, deque())
        seen.append(time.monotonic() if now is None else now)
        self._forget(seen, seen[-1])

    def warmed_up(self, lang_id: str, cpu_seconds: float) -> None:
        """A taken jail's CPU time before its hand-off: what its warm-up cost."""
        if cpu_seconds <= 0:
            return
        before = self._warm_up_cpu.get(lang_id)
        self._warm_up_cpu[lang_id] = cpu_seconds if before is None else (
            SMOOTHING * cpu_seconds + (1 - SMOOTHING) * before)

    def rate(self, lang_id: str, now: float | None = None) -> float:
        """Compiles per second over the recent window."""
        seen = self._seen.get(lang_id)
        if not seen:
            return 0.0
        self._forget(seen, time.monotonic() if now is None else now)
        return len(seen) / WINDOW_SECONDS

    def target(self, lang_id: str, policy: PoolPolicy, now: float | None = None) -> int:
        """Warm jails (idle or starting) to keep for the language: 1 when it is quiet."""
        warm_up_wall = self._warm_up_cpu.get(lang_id, DEFAULT_WARM_UP_CPU) * WALL_PER_CPU
        wanted = math.ceil(self.rate(lang_id, now) * warm_up_wall)
        return max(1, min(policy.max_idle, wanted))

    @staticmethod
    def _forget(seen: deque[float], now: float) -> None:
        while seen and seen[0] < now - WINDOW_SECONDS:
            seen.popleft()
