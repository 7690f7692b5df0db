"""What the rest of the sandbox sees of the host's cgroups: the `Layout` both versions implement,
the totals a parent cgroup may cap, and what a run's cgroup reports afterwards."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .threadcpu import ThreadCpu

CPU_PERIOD_US = 100_000


class CgroupUnavailable(RuntimeError):
    """The host cannot enforce memory and pids limits."""


@dataclass(frozen=True)
class ParentCaps:
    """Totals for all runs of every worker sharing the parent cgroup (None: no cap)."""
    memory_bytes: int | None = None
    pids: int | None = None


NO_CAPS = ParentCaps()


@dataclass
class Usage:
    cpu_seconds: float
    memory_peak_bytes: int
    oom_killed: bool
    pids_limited: bool


class Layout(Protocol):
    """One cgroup hierarchy layout (v1: one hierarchy per controller; v2: unified), holding every
    run cgroup `name` under one parent cgroup."""

    @property
    def version(self) -> int: ...

    def prepare(self, caps: ParentCaps = ...) -> None:
        """Create the parent cgroup and apply the fleet-wide caps."""

    def dirs(self, name: str) -> list[Path]:
        """The run cgroup's directory in each hierarchy."""

    def configure(self, name: str, memory_bytes: int, pids: int, cpus: float) -> None:
        """Set a fresh run cgroup's limits."""

    def set_background(self, name: str, background: bool) -> None: ...

    def join_paths(self, name: str) -> list[Path]:
        """cgroup.procs files the worker steps into while it spawns nsjail."""

    def home_paths(self) -> list[Path]:
        """Where the worker steps back to after spawning nsjail."""

    def cpu_join_paths(self, name: str) -> list[Path]: ...

    def cpu_home_paths(self) -> list[Path]: ...

    def cpu_seconds(self, name: str) -> float: ...

    def nsjail_flags(self, name: str, memory_bytes: int, pids: int) -> list[str]: ...

    def oom_watch(self, name: str) -> int | None:
        """An eventfd the kernel signals on OOM, where the counters alone cannot tell."""

    def thread_cpu(self, owner: str) -> ThreadCpu: ...

    def usage(self, name: str, oom_fd: int | None) -> Usage: ...
