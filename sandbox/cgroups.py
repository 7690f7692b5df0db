"""Per-run cgroups owned by the worker, so limits and verdict evidence outlive nsjail.

cgroup v1 (one hierarchy per controller) and v2 (unified) are both supported; the
layout is detected from /proc/self/mountinfo.
"""
from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

V1_CONTROLLERS = ("memory", "pids", "cpu", "cpuacct")
CPU_PERIOD_US = 100_000


class CgroupUnavailable(RuntimeError):
    """The host cannot enforce memory and pids limits."""


@dataclass
class Usage:
    cpu_seconds: float
    memory_peak_bytes: int
    oom_killed: bool
    pids_limited: bool


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _keyed(text: str) -> dict[str, int]:
    pairs = (line.split() for line in text.splitlines())
    return {p[0]: int(p[1]) for p in pairs if len(p) == 2 and p[1].lstrip("-").isdigit()}


def _write(path: Path, value: str) -> None:
    with open(path, "w") as fh:
        fh.write(value)


def cgroup_mounts(mountinfo: str) -> tuple[dict[str, Path], Path | None]:
    """Return (v1 controller -> mount point, v2 mount point) from mountinfo text."""
    v1, v2 = {}, None
    for line in mountinfo.splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        mount_point, fstype, options = Path(fields[4]), tail[0], tail[2].split(",")
        if fstype == "cgroup2":
            v2 = mount_point
        elif fstype == "cgroup":
            for ctrl in V1_CONTROLLERS:
                if ctrl in options:
                    v1.setdefault(ctrl, mount_point)
    return v1, v2


class CgroupV1:
    version = 1

    def __init__(self, mounts: dict[str, Path], parent: str):
        missing = {"memory", "pids"} - set(mounts)
        if missing:
            raise CgroupUnavailable(f"cgroup v1 controllers missing: {sorted(missing)}")
        self.mounts, self.parent = mounts, parent

    def prepare(self) -> None:
        for mount in set(self.mounts.values()):
            (mount / self.parent).mkdir(exist_ok=True)

    def dirs(self, name: str) -> list[Path]:
        return sorted({m / self.parent / name for m in self.mounts.values()})

    def configure(self, name: str, memory_bytes: int, pids: int, cpus: float) -> None:
        mem = self.mounts["memory"] / self.parent / name
        _write(mem / "memory.limit_in_bytes", str(memory_bytes))
        if (mem / "memory.memsw.limit_in_bytes").exists():
            _write(mem / "memory.memsw.limit_in_bytes", str(memory_bytes))
        _write(mem / "memory.swappiness", "0")
        _write(self.mounts["pids"] / self.parent / name / "pids.max", str(pids))
        if "cpu" in self.mounts:
            cpu = self.mounts["cpu"] / self.parent / name
            _write(cpu / "cpu.cfs_period_us", str(CPU_PERIOD_US))
            _write(cpu / "cpu.cfs_quota_us", str(int(CPU_PERIOD_US * cpus)))

    def usage(self, name: str) -> Usage:
        mem = self.mounts["memory"] / self.parent / name
        acct = self.mounts.get("cpuacct", self.mounts["memory"]) / self.parent / name
        cpu_ns = _read(acct / "cpuacct.usage").strip()
        return Usage(
            cpu_seconds=int(cpu_ns) / 1e9 if cpu_ns.isdigit() else 0.0,
            memory_peak_bytes=int(_read(mem / "memory.max_usage_in_bytes").strip() or 0),
            oom_killed=_keyed(_read(mem / "memory.oom_control")).get("oom_kill", 0) > 0,
            pids_limited=_keyed(_read(self.mounts["pids"] / self.parent / name / "pids.events")).get("max", 0) > 0,
        )

    def procs_files(self, name: str) -> list[Path]:
        return [d / "cgroup.procs" for d in self.dirs(name)]


class CgroupV2:
    version = 2

    def __init__(self, mount: Path, parent: str):
        controllers = _read(mount / "cgroup.controllers").split()
        if not {"memory", "pids"} <= set(controllers):
            raise CgroupUnavailable("cgroup v2 without memory and pids controllers")
        self.mount, self.parent = mount, parent

    def prepare(self) -> None:
        root = self.mount / self.parent
        root.mkdir(exist_ok=True)
        wanted = [c for c in ("memory", "pids", "cpu") if c in _read(root / "cgroup.controllers").split()]
        _write(root / "cgroup.subtree_control", " ".join(f"+{c}" for c in wanted))

    def dirs(self, name: str) -> list[Path]:
        return [self.mount / self.parent / name]

    def configure(self, name: str, memory_bytes: int, pids: int, cpus: float) -> None:
        d = self.mount / self.parent / name
        _write(d / "memory.max", str(memory_bytes))
        if (d / "memory.swap.max").exists():
            _write(d / "memory.swap.max", "0")
        _write(d / "pids.max", str(pids))
        if (d / "cpu.max").exists():
            _write(d / "cpu.max", f"{int(CPU_PERIOD_US * cpus)} {CPU_PERIOD_US}")

    def usage(self, name: str) -> Usage:
        d = self.mount / self.parent / name
        return Usage(
            cpu_seconds=_keyed(_read(d / "cpu.stat")).get("usage_usec", 0) / 1e6,
            memory_peak_bytes=int(_read(d / "memory.peak").strip() or 0),
            oom_killed=_keyed(_read(d / "memory.events")).get("oom_kill", 0) > 0,
            pids_limited=_keyed(_read(d / "pids.events")).get("max", 0) > 0,
        )

    def procs_files(self, name: str) -> list[Path]:
        return [self.mount / self.parent / name / "cgroup.procs"]


def detect(parent: str, mountinfo: str | None = None):
    """The cgroup layout of this host; v2 is used only where it has memory and pids."""
    v1, v2 = cgroup_mounts(mountinfo if mountinfo is not None else _read(Path("/proc/self/mountinfo")))
    if v2 is not None and "memory" in _read(v2 / "cgroup.controllers").split():
        return CgroupV2(v2, parent)
    if v1:
        return CgroupV1(v1, parent)
    raise CgroupUnavailable("no usable cgroup hierarchy (memory and pids limits are required)")


class RunCgroup:
    """One run's cgroup across all controllers: create, join, read, destroy."""

    def __init__(self, layout, name: str):
        self.layout, self.name = layout, name

    def create(self, memory_bytes: int, pids: int, cpus: float = 1.0) -> None:
        for d in self.layout.dirs(self.name):
            d.mkdir()
        self.layout.configure(self.name, memory_bytes, pids, cpus)

    def join_paths(self) -> list[bytes]:
        """cgroup.procs paths, encoded up front so a forked child only writes."""
        return [os.fsencode(p) for p in self.layout.procs_files(self.name)]

    def usage(self) -> Usage:
        return self.layout.usage(self.name)

    def pids(self) -> list[int]:
        found = set()
        for f in self.layout.procs_files(self.name):
            found.update(int(p) for p in _read(f).split())
        return sorted(found)

    def destroy(self) -> None:
        for _ in range(50):
            pids = self.pids()
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if not pids:
                break
            time.sleep(0.02)
        for d in self.layout.dirs(self.name):
            try:
                d.rmdir()
            except FileNotFoundError:
                pass


def join_cgroups(paths: list[bytes]) -> None:
    """Runs in the forked child before exec: move this process into the run cgroup."""
    pid = str(os.getpid()).encode()
    for path in paths:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, pid)
        finally:
            os.close(fd)


def remove_parent(layout) -> None:
    """Remove the (empty) parent cgroup, e.g. when a test deployment is torn down."""
    for parent in {d.parent for d in layout.dirs("x")}:
        try:
            parent.rmdir()
        except (FileNotFoundError, OSError):
            pass


def sweep(layout, is_stale) -> int:
    """Remove run cgroups left behind by dead workers; returns how many."""
    removed = 0
    for parent in {d.parent for d in layout.dirs("x")}:
        if not parent.is_dir():
            continue
        for child in parent.iterdir():
            if child.is_dir() and is_stale(child.name):
                RunCgroup(layout, child.name).destroy()
                removed += 1
    return removed
