"""cgroup v2: one unified hierarchy; nsjail makes its own child cgroup under the run's."""
from __future__ import annotations

from pathlib import Path

from .files import keyed_counts, read_int, read_text, write_text
from .layout import CPU_PERIOD_US, NO_CAPS, CgroupUnavailable, ParentCaps, Usage
from .threadcpu import ThreadCpu

# nsjail's own child cgroup gets looser limits than our run cgroup above it.
CHILD_SLACK_BYTES = 32 << 20
CHILD_SLACK_PIDS = 8


class CgroupV2:
    version = 2

    def __init__(self, mount: Path, parent: str):
        controllers = read_text(mount / "cgroup.controllers").split()
        if not {"memory", "pids"} <= set(controllers):
            raise CgroupUnavailable("cgroup v2 without memory and pids controllers")
        self.mount, self.parent = mount, parent

    def prepare(self, caps: ParentCaps = NO_CAPS) -> None:
        root = self.mount / self.parent
        root.mkdir(exist_ok=True)
        wanted = [c for c in ("memory", "pids", "cpu") if c in read_text(root / "cgroup.controllers").split()]
        write_text(root / "cgroup.subtree_control", " ".join(f"+{c}" for c in wanted))
        if caps.memory_bytes:  # v2 charges socket buffers to memory.max already
            write_text(root / "memory.max", str(caps.memory_bytes))
            if (root / "memory.swap.max").exists():
                write_text(root / "memory.swap.max", "0")
        if caps.pids:
            write_text(root / "pids.max", str(caps.pids))

    def dirs(self, name: str) -> list[Path]:
        return [self.mount / self.parent / name]

    def configure(self, name: str, memory_bytes: int, pids: int, cpus: float) -> None:
        d = self.mount / self.parent / name
        write_text(d / "memory.max", str(memory_bytes))
        if (d / "memory.swap.max").exists():
            write_text(d / "memory.swap.max", "0")
        write_text(d / "pids.max", str(pids))
        if (d / "cpu.max").exists():
            write_text(d / "cpu.max", f"{int(CPU_PERIOD_US * cpus)} {CPU_PERIOD_US}")

    def set_background(self, name: str, background: bool) -> None:
        if (self.mount / self.parent / name / "cpu.weight").exists():
            write_text(self.mount / self.parent / name / "cpu.weight", "1" if background else "100")

    def join_paths(self, name: str) -> list[Path]:
        return []  # no process may sit in a v2 cgroup that has children: nsjail makes its own

    def home_paths(self) -> list[Path]:
        return []

    def cpu_join_paths(self, name: str) -> list[Path]:
        return []

    def cpu_home_paths(self) -> list[Path]:
        return []

    def cpu_seconds(self, name: str) -> float:
        return keyed_counts(read_text(self.mount / self.parent / name / "cpu.stat")).get("usage_usec", 0) / 1e6

    def nsjail_flags(self, name: str, memory_bytes: int, pids: int) -> list[str]:
        return ["--use_cgroupv2", "--cgroupv2_mount", str(self.mount / self.parent / name),
                "--cgroup_mem_max", str(memory_bytes + CHILD_SLACK_BYTES), "--cgroup_mem_swap_max", "0",
                "--cgroup_pids_max", str(pids + CHILD_SLACK_PIDS), "--cgroup_cpu_ms_per_sec", "1000"]

    def oom_watch(self, name: str) -> None:
        return None  # v2 memory.events is hierarchical: oom_kill survives nsjail's child

    def thread_cpu(self, owner: str) -> ThreadCpu:
        return ThreadCpu(None, self.parent, owner)  # cpu.stat below is hierarchical

    def usage(self, name: str, oom_fd: int | None) -> Usage:
        d = self.mount / self.parent / name
        return Usage(
            cpu_seconds=keyed_counts(read_text(d / "cpu.stat")).get("usage_usec", 0) / 1e6,
            memory_peak_bytes=read_int(d / "memory.peak"),
            oom_killed=keyed_counts(read_text(d / "memory.events")).get("oom_kill", 0) > 0,
            pids_limited=keyed_counts(read_text(d / "pids.events")).get("max", 0) > 0,
        )
