"""cgroup v1: one hierarchy per controller (memory, pids, cpu, cpuacct)."""
from __future__ import annotations

import os
from pathlib import Path

from .files import eventfd_count, keyed_counts, read_int, read_text, write_text
from .layout import CPU_PERIOD_US, NO_CAPS, CgroupUnavailable, ParentCaps, Usage
from .threadcpu import ThreadCpu

V1_CONTROLLERS = ("memory", "pids", "cpu", "cpuacct")
NSJAIL_PIDS = 1  # nsjail itself runs in the run's pids cgroup
JOINED = ("memory", "pids")  # hierarchies nsjail starts in (see join_paths)


def _set_memory_limits(d: Path, limit: int) -> None:
    """memory and memory+swap limits (v1 wants memsw >= memory at every step, so a
    growing limit is written memsw first); socket buffers get the same cap: v1 keeps
    them out of memory.usage, and writing the tcp limit switches their accounting on."""
    limit -= limit % 4096  # the kernel keeps whole pages; compare like with like
    files = [d / "memory.limit_in_bytes"]
    if (d / "memory.memsw.limit_in_bytes").exists():
        current = read_int(files[0])
        files.insert(0 if limit > current else 1, d / "memory.memsw.limit_in_bytes")
    if (d / "memory.kmem.tcp.limit_in_bytes").exists():
        files.append(d / "memory.kmem.tcp.limit_in_bytes")
    for path in files:
        if read_text(path).strip() != str(limit):  # unchanged: no write (EBUSY-free while runs use it)
            write_text(path, str(limit))


def _own_cgroups(proc_cgroup: Path) -> dict[str, str]:
    """controller -> this process's (or thread's) cgroup path in it, from /proc/.../cgroup."""
    own = {}
    for line in read_text(proc_cgroup).splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(","):
            own[controller] = path.lstrip("/")
    return own


class CgroupV1:
    version = 1

    def __init__(self, mounts: dict[str, Path], parent: str):
        missing = {"memory", "pids"} - set(mounts)
        if missing:
            raise CgroupUnavailable(f"cgroup v1 controllers missing: {sorted(missing)}")
        self.mounts, self.parent = mounts, parent

    def prepare(self, caps: ParentCaps = NO_CAPS) -> None:
        for mount in set(self.mounts.values()):
            (mount / self.parent).mkdir(exist_ok=True)
        if caps.memory_bytes:
            _set_memory_limits(self.mounts["memory"] / self.parent, caps.memory_bytes)
        if caps.pids:
            write_text(self.mounts["pids"] / self.parent / "pids.max", str(caps.pids))

    def dirs(self, name: str) -> list[Path]:
        return sorted({m / self.parent / name for m in self.mounts.values()})

    def configure(self, name: str, memory_bytes: int, pids: int, cpus: float) -> None:
        mem = self.mounts["memory"] / self.parent / name
        _set_memory_limits(mem, memory_bytes)
        write_text(mem / "memory.swappiness", "0")
        write_text(self.mounts["pids"] / self.parent / name / "pids.max", str(pids + NSJAIL_PIDS))
        if "cpu" in self.mounts:
            cpu = self.mounts["cpu"] / self.parent / name
            write_text(cpu / "cpu.cfs_period_us", str(CPU_PERIOD_US))
            write_text(cpu / "cpu.cfs_quota_us", str(int(CPU_PERIOD_US * cpus)))

    def set_background(self, name: str, background: bool) -> None:
        if "cpu" in self.mounts:
            write_text(self.mounts["cpu"] / self.parent / name / "cpu.shares", "2" if background else "1024")

    def join_paths(self, name: str) -> list[Path]:
        """Memory and pids: nsjail starts inside the run cgroup and makes no child there, so
        the jail is charged where the limits and counters are. v1 charges socket buffers
        only to a cgroup whose own tcp limit was written, and counts a refused fork
        (pids.events) only in the forking cgroup: an nsjail child would hide both."""
        return [self.mounts[c] / self.parent / name / "cgroup.procs" for c in JOINED]

    def home_paths(self) -> list[Path]:
        """This process's own memory and pids cgroups, to return to after starting nsjail."""
        own = _own_cgroups(Path("/proc/self/cgroup"))
        return [self.mounts[c] / own[c] / "cgroup.procs" for c in JOINED]

    def cpu_join_paths(self, name: str) -> list[Path]:
        """For a jail whose CPU is read from its own cgroup (one started ahead of need, whose
        spawning thread's ThreadCpu group would mix it with others): the spawning thread alone
        steps into the run's cpuacct group (`tasks`: the process's other threads stay put)."""
        acct = self.mounts.get("cpuacct")
        return [acct / self.parent / name / "tasks"] if acct else []

    def cpu_home_paths(self) -> list[Path]:
        acct = self.mounts.get("cpuacct")
        if not acct:
            return []
        for line in read_text(Path("/proc/thread-self/cgroup")).splitlines():
            _, controllers, path = line.split(":", 2)
            if "cpuacct" in controllers.split(","):
                return [acct / path.lstrip("/") / "tasks"]
        return []

    def cpu_seconds(self, name: str) -> float:
        acct = self.mounts.get("cpuacct")
        return read_int(acct / self.parent / name / "cpuacct.usage") / 1e9 if acct else 0.0

    def nsjail_flags(self, name: str, memory_bytes: int, pids: int) -> list[str]:
        """cpu: nsjail puts the jail in a child of our run cgroup, whose quota holds for it."""
        if "cpu" not in self.mounts:
            return []
        return ["--cgroup_cpu_mount", str(self.mounts["cpu"]), "--cgroup_cpu_parent", f"{self.parent}/{name}",
                "--cgroup_cpu_ms_per_sec", "1000"]

    def oom_watch(self, name: str) -> int:
        """The kernel notifies an eventfd when our run cgroup hits OOM."""
        mem = self.mounts["memory"] / self.parent / name
        efd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        ofd = os.open(mem / "memory.oom_control", os.O_RDONLY | os.O_CLOEXEC)
        try:
            write_text(mem / "cgroup.event_control", f"{efd} {ofd}")
        finally:
            os.close(ofd)
        return efd

    def thread_cpu(self, owner: str) -> ThreadCpu:
        return ThreadCpu(self.mounts.get("cpuacct"), self.parent, owner)

    def usage(self, name: str, oom_fd: int | None) -> Usage:
        mem = self.mounts["memory"] / self.parent / name
        pids_events = keyed_counts(read_text(self.mounts["pids"] / self.parent / name / "pids.events"))
        return Usage(
            cpu_seconds=0.0,  # v1: measured by ThreadCpu (nsjail never joins cpuacct)
            memory_peak_bytes=read_int(mem / "memory.max_usage_in_bytes"),
            oom_killed=eventfd_count(oom_fd) > 0,
            pids_limited=pids_events.get("max", 0) > 0,
        )
