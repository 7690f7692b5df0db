"""Per-thread CPU accounting for cgroup v1, where nsjail never joins cpuacct."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from pathlib import Path

from .cgroups import _read, _write


class ThreadCpu:
    """CPU used by what a worker thread spawns, on cgroup v1 where nsjail never joins
    cpuacct: each worker thread lives in its own cpuacct group (joined once, on first
    use), everything it spawns inherits it, and a run's CPU is the group's delta minus
    the thread's own. No per-run cgroup migration, so no race and no extra latency."""

    _local = threading.local()

    def __init__(self, mount: Path | None, parent: str, owner: str):
        self.mount, self.parent, self.owner = mount, parent, owner
        self.seconds = 0.0

    def _group(self) -> Path:
        group = getattr(self._local, "group", None)
        if group is None or not group.is_dir():
            tid = threading.get_native_id()
            group = self.mount / self.parent / f"{self.owner}.acct-{tid}"
            group.mkdir(exist_ok=True)
            _write(group / "tasks", str(tid))
            self._local.group = group
        return group

    def _usage_ns(self, group: Path) -> int:
        return int(_read(group / "cpuacct.usage").strip() or 0)

    @contextmanager
    def measure(self):
        if self.mount is None:
            yield self
            return
        group = self._group()
        before, own_before = self._usage_ns(group), time.thread_time()
        try:
            yield self
        finally:
            spent = (self._usage_ns(group) - before) / 1e9 - (time.thread_time() - own_before)
            self.seconds = max(0.0, spent)
