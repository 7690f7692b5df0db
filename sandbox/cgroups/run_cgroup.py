"""One run's cgroup, owned by the worker so limits and verdict evidence outlive nsjail."""
from __future__ import annotations

import errno
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from .files import read_text
from .layout import Layout, Usage

DESTROY_SECONDS = 5.0  # how long a destroy waits for the jail's processes to be gone


class RunCgroup:
    """One run's cgroup across all controllers: create, join, read, destroy."""

    def __init__(self, layout: Layout, name: str):
        self.layout, self.name = layout, name
        self.oom_fd: int | None = None

    def create(self, memory_bytes: int, pids: int, cpus: float = 1.0) -> None:
        for d in self.layout.dirs(self.name):
            d.mkdir()
        self.layout.configure(self.name, memory_bytes, pids, cpus)
        self.oom_fd = self.layout.oom_watch(self.name)

    def nsjail_flags(self, memory_bytes: int, pids: int) -> list[str]:
        return self.layout.nsjail_flags(self.name, memory_bytes, pids)

    def join_paths(self) -> list[Path]:
        """cgroup.procs files nsjail must start in (it inherits them from the worker, which
        steps in while spawning it)."""
        return self.layout.join_paths(self.name)

    def home_paths(self) -> list[Path]:
        return self.layout.home_paths()

    def usage(self) -> Usage:
        return self.layout.usage(self.name, self.oom_fd)

    def own_cpu_paths(self) -> tuple[list[Path], Callable[[], list[Path]]]:
        """(join, home) for a jail that keeps its CPU in this cgroup: see cpu_join_paths."""
        return (self.join_paths() + self.layout.cpu_join_paths(self.name),
                lambda: self.home_paths() + self.layout.cpu_home_paths())

    def cpu_seconds(self) -> float:
        return self.layout.cpu_seconds(self.name)

    def set_background(self, background: bool) -> None:
        """Background: CPU only when no other run wants it (a compiler warming up ahead of need).
        Back to the foreground, every thread in the tree also leaves SCHED_IDLE (see prewarm)."""
        self.layout.set_background(self.name, background)
        if background:
            return
        done: set[int] = set()
        for _ in range(3):  # again for threads an idle thread just started
            fresh = self.thread_ids() - done
            for tid in fresh:
                try:
                    os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))
                except (ProcessLookupError, PermissionError):
                    pass  # gone meanwhile
            done |= fresh

    def thread_ids(self) -> set[int]:
        """Host ids of every thread in the run's cgroups (v1 `tasks`, v2 `cgroup.threads`)."""
        return {int(t) for d in self._tree() for f in ("tasks", "cgroup.threads") for t in read_text(d / f).split()}

    def _tree(self) -> list[Path]:
        """Our run cgroup dirs and any child nsjail left behind (deepest first)."""
        return [d for run_dir in self.layout.dirs(self.name) for d in (*_children(run_dir), run_dir)]

    def destroy(self) -> None:
        """Kills what is left and removes the dirs. Looked at afresh each round: nsjail may make
        its child cgroup, and a dying process (a JVM unmapping its heap) may stay listed, a while
        after the kill; only past DESTROY_SECONDS does a busy cgroup raise."""
        if self.oom_fd is not None:
            os.close(self.oom_fd)
            self.oom_fd = None
        give_up_at = time.monotonic() + DESTROY_SECONDS
        while True:
            tree = self._tree()
            pids = {int(p) for d in tree for p in read_text(d / "cgroup.procs").split()}
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if not pids or time.monotonic() >= give_up_at:
                try:
                    _remove(tree)
                    return
                except OSError as exc:
                    if exc.errno != errno.EBUSY or time.monotonic() >= give_up_at:
                        raise
            time.sleep(0.02)


def _remove(tree: list[Path]) -> None:
    for d in tree:
        try:
            d.rmdir()
        except FileNotFoundError:
            pass


def _children(d: Path) -> list[Path]:
    """Child cgroups of `d`; none once `d` is gone (another sweeper may remove it any moment)."""
    try:
        return [c for c in d.iterdir() if c.is_dir() and not c.is_symlink()]
    except (FileNotFoundError, NotADirectoryError):
        return []
