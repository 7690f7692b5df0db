"""The sandbox's floor for issue 20: a bare nsjail run of a program with the service jail's
namespaces, uid map and read-only binds (the same uid lease, work dir and nsjail config the
runner builds), but no cgroups and no API, queue or database.

It is built from the sandbox's public pieces, as the runner assembles them, so it follows the
jail as it changes; only the per-run cgroup (and the runner's bookkeeping around it) is left out.
"""
from __future__ import annotations

import os
import subprocess
import time
import uuid
from dataclasses import dataclass

from sandbox.jail import StageLimits, entry_file, expand, jail_command
from sandbox.registry import registry
from sandbox.settings import SandboxSettings
from sandbox.uids import UidPool
from sandbox.workdir import Workdir, prepare_runs_dir

PROGRAM = "print(1)"


@dataclass(frozen=True)
class BareTiming:
    total: float  # lease + work dir + files + nsjail + clean-up: what a run needs at the least
    nsjail: float  # the nsjail process alone, start to exit


class BareJail:
    """Runs programs in jails like the service's, minus cgroups (SandboxSettings from the environment,
    so SANDBOX_RUNS_DIR must name the runs dir the stack uses, as bench_stack sets it)."""

    def __init__(self) -> None:
        self.settings = SandboxSettings.from_env()
        self.uids = UidPool(self.settings.uid_range, self.settings.uid_lease_dir)
        self.uids.prepare()
        prepare_runs_dir(self.settings.runs_dir)
        self.log_fd = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)  # nsjail's own log is not measured

    def run(self, lang_id: str, code: str, expect: bytes, memory_mb: int = 256, timeout: float = 10) -> BareTiming:
        lang = registry().get(lang_id)
        main = entry_file(lang, code)
        command = expand(lang.run, lang, memory_mb, main)
        limits = StageLimits(timeout, timeout, memory_mb, lang.pids, self.settings.tmp_mb)
        # "bench-" names are never a worker's: the workers' sweep leaves them alone
        name, work_mb = f"bench-bare-{uuid.uuid4().hex[:12]}", min(self.settings.work_mb, memory_mb)
        start = time.perf_counter()
        with self.uids.lease() as ids, Workdir(self.settings.runs_dir, name, work_mb, ids) as work:
            work.write_files([(main, (lang.prelude + code).encode())])
            with jail_command(self.settings, lang, ids, work.path, command, limits, self.log_fd, []) as (argv, fds):
                started = time.perf_counter()
                done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, env={}, close_fds=True,
                                      pass_fds=(self.log_fd, *fds), start_new_session=True, timeout=timeout + 5)
                nsjail = time.perf_counter() - started
        total = time.perf_counter() - start
        if done.returncode != 0 or done.stdout != expect:
            raise RuntimeError(f"bare jail run failed: rc {done.returncode}, stdout {done.stdout[:200]!r}, "
                               f"stderr {done.stderr[:300]!r}")
        return BareTiming(total, nsjail)


_BARE: BareJail | None = None


def bare_python(_: object = None) -> BareTiming:
    """One bare run of print(1) (a picklable function, for process pools)."""
    global _BARE
    if _BARE is None:  # per process: a pool process makes its own
        _BARE = BareJail()
    return _BARE.run("python", PROGRAM, b"1\n")


def bare_python_seconds(_: object = None) -> float:
    return bare_python().total

