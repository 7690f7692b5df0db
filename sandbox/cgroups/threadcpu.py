"""Per-thread CPU accounting for cgroup v1, where nsjail never joins cpuacct."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .files import read_int, write_text


class ThreadCpu:
    """CPU used by what a worker thread spawns, on cgroup v1 where nsjail never joins
    cpuacct: each worker thread lives in its own cpuacct group (joined once, on first
    use), everything it spawns inherits it, and a run's CPU is the group's delta minus
    the thread's own. No per-run cgroup migration, so no race and no extra latency."""

    _local = threading.local()

    def __init__(self, mount: Path | None, parent: str, owner: str):
        self.mount, self.parent, self.owner = mount, parent, owner
        self.seconds = 0.0

    def _group(self, mount: Path) -> Path:
        group: Path | None = getattr(self._local, "group", None)
        if group is None or not group.is_dir():
            tid = threading.get_native_id()
            group = mount / self.parent / f"{self.owner}.acct-{tid}"
            group.mkdir(exist_ok=True)
            write_text(group / "tasks", str(tid))
            self._local.group = group
        return group

    @contextmanager
    def measure(self) -> Iterator[ThreadCpu]:
        if self.mount is None:
            yield self
            return
        group = self._group(self.mount)
        before, own_before = read_int(group / "cpuacct.usage"), time.thread_time()
        try:
            yield self
        finally:
            spent = (read_int(group / "cpuacct.usage") - before) / 1e9 - (time.thread_time() - own_before)
            self.seconds = max(0.0, spent)
