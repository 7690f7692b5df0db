"""Per-run cgroups owned by the worker, so limits and verdict evidence outlive nsjail.

cgroup v1 (`v1`: one hierarchy per controller) and v2 (`v2`: unified) both implement `Layout`
(`layout`), the interface the rest of the sandbox uses; `detect` picks the host's from
/proc/self/mountinfo. `run_cgroup` is one run's cgroup; `leftovers`, the parent cgroup holding them
all, where the start-up sweep looks. `threadcpu`: per-thread CPU accounting on v1.
"""
from .detect import cgroup_mounts, detect
from .layout import CPU_PERIOD_US, CgroupUnavailable, Layout, ParentCaps, Usage
from .leftovers import parent_dirs, remove_parent
from .run_cgroup import RunCgroup
from .threadcpu import ThreadCpu
from .v1 import JOINED, NSJAIL_PIDS, V1_CONTROLLERS, CgroupV1
from .v2 import CHILD_SLACK_BYTES, CHILD_SLACK_PIDS, CgroupV2

__all__ = [
    "CHILD_SLACK_BYTES", "CHILD_SLACK_PIDS", "CPU_PERIOD_US", "JOINED", "NSJAIL_PIDS", "V1_CONTROLLERS",
    "CgroupUnavailable", "CgroupV1", "CgroupV2", "Layout", "ParentCaps", "RunCgroup", "ThreadCpu", "Usage",
    "cgroup_mounts", "detect", "parent_dirs", "remove_parent",
]
