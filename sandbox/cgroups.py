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
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from .threadcpu import ThreadCpu

V1_CONTROLLERS = ("memory", "pids", "cpu", "cpuacct")
CPU_PERIOD_US = 100_000
# v2: nsjail's own child cgroup gets looser limits than our run cgroup above it.
CHILD_SLACK_BYTES = 32 << 20
CHILD_SLACK_PIDS = 8
NSJAIL_PIDS = 1  # v1: nsjail itself runs in the run's pids cgroup


class CgroupUnavailable(RuntimeError):
    """The host cannot enforce memory and pids limits."""


@dataclass(frozen=True)
class ParentCaps:
    """Totals for all runs of every worker sharing the parent cgroup (None: no cap)."""
    memory_bytes: int | None = None
    pids: int | None = None


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


def _eventfd_count(fd: int | None) -> int:
    if fd is None:
        return 0
    try:
        return os.eventfd_read(fd)
    except BlockingIOError:
        return 0


def _write(path: Path, value: str) -> None:
    with open(path, "w") as fh:
        fh.write(value)


def _set_v1_memory(d: Path, limit: int) -> None:
    """memory and memory+swap limits (v1 wants memsw >= memory at every step, so a
    growing limit is written memsw first); socket buffers get the same cap: v1 keeps
    them out of memory.usage, and writing the tcp limit switches their accounting on."""
    limit -= limit % 4096  # the kernel keeps whole pages; compare like with like
    files = [d / "memory.limit_in_bytes"]
    if (d / "memory.memsw.limit_in_bytes").exists():
        current = int(_read(files[0]).strip() or 0)
        files.insert(0 if limit > current else 1, d / "memory.memsw.limit_in_bytes")
    if (d / "memory.kmem.tcp.limit_in_bytes").exists():
        files.append(d / "memory.kmem.tcp.limit_in_bytes")
    for path in files:
        if _read(path).strip() != str(limit):  # unchanged: no write (EBUSY-free while runs use it)
            _write(path, str(limit))


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


JOINED = ("memory", "pids")  # v1 hierarchies nsjail starts in (see join_paths)


class CgroupV1:
    version = 1

    def __init__(self, mounts: dict[str, Path], parent: str):
        missing = {"memory", "pids"} - set(mounts)
        if missing:
            raise CgroupUnavailable(f"cgroup v1 controllers missing: {sorted(missing)}")
        self.mounts, self.parent = mounts, parent

    def prepare(self, caps: ParentCaps = ParentCaps()) -> None:
        for mount in set(self.mounts.values()):
            (mount / self.parent).mkdir(exist_ok=True)
        if caps.memory_bytes:
            _set_v1_memory(self.mounts["memory"] / self.parent, caps.memory_bytes)
        if caps.pids:
            _write(self.mounts["pids"] / self.parent / "pids.max", str(caps.pids))

    def dirs(self, name: str) -> list[Path]:
        return sorted({m / self.parent / name for m in self.mounts.values()})

    def configure(self, name: str, memory_bytes: int, pids: int, cpus: float) -> None:
        mem = self.mounts["memory"] / self.parent / name
        _set_v1_memory(mem, memory_bytes)
        _write(mem / "memory.swappiness", "0")
        _write(self.mounts["pids"] / self.parent / name / "pids.max", str(pids + NSJAIL_PIDS))
        if "cpu" in self.mounts:
            cpu = self.mounts["cpu"] / self.parent / name
            _write(cpu / "cpu.cfs_period_us", str(CPU_PERIOD_US))
            _write(cpu / "cpu.cfs_quota_us", str(int(CPU_PERIOD_US * cpus)))

    def set_background(self, name: str, background: bool) -> None:
        if "cpu" in self.mounts:
            _write(self.mounts["cpu"] / self.parent / name / "cpu.shares", "2" if background else "1024")

    def join_paths(self, name: str) -> list[Path]:
        """Memory and pids: nsjail starts inside the run cgroup and makes no child there, so
        the jail is charged where the limits and counters are. v1 charges socket buffers
        only to a cgroup whose own tcp limit was written, and counts a refused fork
        (pids.events) only in the forking cgroup: an nsjail child would hide both."""
        return [self.mounts[c] / self.parent / name / "cgroup.procs" for c in JOINED]

    def home_paths(self) -> list[Path]:
        """This process's own memory and pids cgroups, to return to after starting nsjail."""
        own = {}
        for line in _read(Path("/proc/self/cgroup")).splitlines():
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(","):
                own[controller] = path.lstrip("/")
        return [self.mounts[c] / own[c] / "cgroup.procs" for c in JOINED]

    def cpu_join_paths(self, name: str) -> list[Path]:
        """For a jail whose CPU is read from its own cgroup (one started ahead of need, whose
        spawning thread's ThreadCpu group would mix it with others): the spawning thread alone
        steps into the run's cpuacct group (`tasks`: the process's other threads stay put)."""
        acct = self.mounts.get("cpuacct")
        return [acct / self.parent / name / "tasks"] if acct else []

    def cpu_home_paths(self) -> list[Path]:
        acct = self.mounts.get("cpuacct")
        for line in _read(Path("/proc/thread-self/cgroup")).splitlines() if acct else ():
            _, controllers, path = line.split(":", 2)
            if "cpuacct" in controllers.split(","):
                return [acct / path.lstrip("/") / "tasks"]
        return []

    def cpu_seconds(self, name: str) -> float:
        acct = self.mounts.get("cpuacct")
        return int(_read(acct / self.parent / name / "cpuacct.usage").strip() or 0) / 1e9 if acct else 0.0

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
            _write(mem / "cgroup.event_control", f"{efd} {ofd}")
        finally:
            os.close(ofd)
        return efd

    def thread_cpu(self, owner: str) -> ThreadCpu:
        from .threadcpu import ThreadCpu  # it builds on this module's file helpers

        return ThreadCpu(self.mounts.get("cpuacct"), self.parent, owner)

    def usage(self, name: str, oom_fd: int | None) -> Usage:
        mem = self.mounts["memory"] / self.parent / name
        return Usage(
            cpu_seconds=0.0,  # v1: measured by ThreadCpu (nsjail never joins cpuacct)
            memory_peak_bytes=int(_read(mem / "memory.max_usage_in_bytes").strip() or 0),
            oom_killed=_eventfd_count(oom_fd) > 0,
            pids_limited=_keyed(_read(self.mounts["pids"] / self.parent / name / "pids.events")).get("max", 0) > 0,
        )



class CgroupV2:
    version = 2

    def __init__(self, mount: Path, parent: str):
        controllers = _read(mount / "cgroup.controllers").split()
        if not {"memory", "pids"} <= set(controllers):
            raise CgroupUnavailable("cgroup v2 without memory and pids controllers")
        self.mount, self.parent = mount, parent

    def prepare(self, caps: ParentCaps = ParentCaps()) -> None:
        root = self.mount / self.parent
        root.mkdir(exist_ok=True)
        wanted = [c for c in ("memory", "pids", "cpu") if c in _read(root / "cgroup.controllers").split()]
        _write(root / "cgroup.subtree_control", " ".join(f"+{c}" for c in wanted))
        if caps.memory_bytes:  # v2 charges socket buffers to memory.max already
            _write(root / "memory.max", str(caps.memory_bytes))
            if (root / "memory.swap.max").exists():
                _write(root / "memory.swap.max", "0")
        if caps.pids:
            _write(root / "pids.max", str(caps.pids))

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

    def set_background(self, name: str, background: bool) -> None:
        if (self.mount / self.parent / name / "cpu.weight").exists():
            _write(self.mount / self.parent / name / "cpu.weight", "1" if background else "100")

    def join_paths(self, name: str) -> list[Path]:
        return []  # no process may sit in a v2 cgroup that has children: nsjail makes its own

    def home_paths(self) -> list[Path]:
        return []

    def cpu_join_paths(self, name: str) -> list[Path]:
        return []

    def cpu_home_paths(self) -> list[Path]:
        return []

    def cpu_seconds(self, name: str) -> float:
        return _keyed(_read(self.mount / self.parent / name / "cpu.stat")).get("usage_usec", 0) / 1e6

    def nsjail_flags(self, name: str, memory_bytes: int, pids: int) -> list[str]:
        return ["--use_cgroupv2", "--cgroupv2_mount", str(self.mount / self.parent / name),
                "--cgroup_mem_max", str(memory_bytes + CHILD_SLACK_BYTES), "--cgroup_mem_swap_max", "0",
                "--cgroup_pids_max", str(pids + CHILD_SLACK_PIDS), "--cgroup_cpu_ms_per_sec", "1000"]

    def oom_watch(self, name: str) -> None:
        return None  # v2 memory.events is hierarchical: oom_kill survives nsjail's child

    def thread_cpu(self, owner: str) -> ThreadCpu:
        from .threadcpu import ThreadCpu

        return ThreadCpu(None, self.parent, owner)  # cpu.stat below is hierarchical

    def usage(self, name: str, oom_fd: int | None) -> Usage:
        d = self.mount / self.parent / name
        return Usage(
            cpu_seconds=_keyed(_read(d / "cpu.stat")).get("usage_usec", 0) / 1e6,
            memory_peak_bytes=int(_read(d / "memory.peak").strip() or 0),
            oom_killed=_keyed(_read(d / "memory.events")).get("oom_kill", 0) > 0,
            pids_limited=_keyed(_read(d / "pids.events")).get("max", 0) > 0,
        )



def detect(parent: str, mountinfo: str | None = None):
    """The cgroup layout of this host; v2 is used only where it has memory and pids
    (a hybrid host whose v2 lacks them falls back to the v1 hierarchies)."""
    v1, v2 = cgroup_mounts(mountinfo if mountinfo is not None else _read(Path("/proc/self/mountinfo")))
    if v2 is not None and {"memory", "pids"} <= set(_read(v2 / "cgroup.controllers").split()):
        return CgroupV2(v2, parent)
    if v1:
        return CgroupV1(v1, parent)
    raise CgroupUnavailable("no usable cgroup hierarchy (memory and pids limits are required)")


class RunCgroup:
    """One run's cgroup across all controllers: create, join, read, destroy."""

    def __init__(self, layout, name: str):
        self.layout, self.name, self.oom_fd = layout, name, None

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
        return {int(t) for d in self._tree() for f in ("tasks", "cgroup.threads") for t in _read(d / f).split()}

    def _tree(self) -> list[Path]:
        """Our run cgroup dirs and any child nsjail left behind (deepest first)."""
        return [d for run_dir in self.layout.dirs(self.name) for d in (*_children(run_dir), run_dir)]

    def destroy(self) -> None:
        if self.oom_fd is not None:
            os.close(self.oom_fd)
            self.oom_fd = None
        tree = self._tree()
        for _ in range(50):
            pids = {int(p) for d in tree for p in _read(d / "cgroup.procs").split()}
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if not pids:
                break
            time.sleep(0.02)
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


def parent_dirs(layout) -> set[Path]:
    """The parent cgroup's directory in each hierarchy (one on v2)."""
    return {d.parent for d in layout.dirs("x")}


def remove_parent(layout) -> None:
    """Remove the (empty) parent cgroup, e.g. when a test deployment is torn down."""
    for parent in parent_dirs(layout):
        try:
            parent.rmdir()
        except (FileNotFoundError, OSError):
            pass
