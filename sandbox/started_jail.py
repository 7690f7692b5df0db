"""What a jail started ahead of need holds until it is closed (sandbox/prewarm.py, ready_jails.py)."""
from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Self

from . import cgroups, workdir
from .identity import JailIds
from .jail import StageLimits, jail_command
from .process import end_process, idle_priority, start_process
from .registry import Language
from .settings import SandboxSettings
from .uids import UidPool


class StartedJail:
    """Its uid lease, work dir and cgroup (closed last to first by `_stack`), its nsjail, and the
    read end of nsjail's log until a hand-off takes it."""

    proc: subprocess.Popen[bytes]
    log_read: int | None
    work: workdir.Workdir
    cgroup: cgroups.RunCgroup
    _stack: ExitStack

    @contextmanager
    def _starting(self) -> Iterator[None]:
        """Around a subclass's start: whatever it took is released if the start fails."""
        self.log_read, self._stack = None, ExitStack()
        try:
            yield
        except BaseException:
            self.log_read = None  # start_process closed it, or the pipe never existed
            self._stack.close()
            raise
        self._stack.callback(self._stop)

    def _hold(self, settings: SandboxSettings, uid_pool: UidPool, name: str, work_mb: int) -> JailIds:
        """A uid lease (held until the jail is gone: closed last) and a fresh work dir for it."""
        ids = self._stack.enter_context(uid_pool.lease())
        self.work = self._stack.enter_context(workdir.Workdir(settings.runs_dir, name, work_mb, ids))
        return ids

    def _launch(self, settings: SandboxSettings, layout: cgroups.Layout, lang: Language, ids: JailIds,
                cgroup_name: str, command: list[str], stage: StageLimits) -> None:
        """Its cgroup (in the background: starting up must not slow down the runs going on), then
        nsjail under SCHED_IDLE, its CPU in that cgroup's own accounting group."""
        self.cgroup = cgroups.RunCgroup(layout, cgroup_name)
        memory_bytes = stage.memory_mb << 20
        self._stack.callback(self.cgroup.destroy)
        self.cgroup.create(memory_bytes, stage.pids)
        self.cgroup.set_background(True)
        self.log_read, log_write = os.pipe()
        join, home = self.cgroup.own_cpu_paths()
        with jail_command(settings, lang, ids, self.work.path, command, stage, log_write,
                          self.cgroup.nsjail_flags(memory_bytes, stage.pids)) as (argv, inherited):
            self.proc = start_process(idle_priority() + argv, log_write, self.log_read, tuple(join), home, inherited)

    def _stop(self) -> None:
        end_process(self.proc)
        if self.log_read is not None:
            os.close(self.log_read)
            self.log_read = None

    def close(self) -> None:
        """Kills what is left, destroys the cgroup, unmounts the work dir (never follows a link)."""
        self._stack.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
