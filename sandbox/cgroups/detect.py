"""Which cgroup layout this host has, from /proc/self/mountinfo."""
from __future__ import annotations

from pathlib import Path

from .files import read_text
from .layout import CgroupUnavailable, Layout
from .v1 import V1_CONTROLLERS, CgroupV1
from .v2 import CgroupV2


def cgroup_mounts(mountinfo: str) -> tuple[dict[str, Path], Path | None]:
    """Return (v1 controller -> mount point, v2 mount point) from mountinfo text."""
    v1: dict[str, Path] = {}
    v2: Path | None = None
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


def detect(parent: str, mountinfo: str | None = None) -> Layout:
    """The cgroup layout of this host; v2 is used only where it has memory and pids
    (a hybrid host whose v2 lacks them falls back to the v1 hierarchies)."""
    v1, v2 = cgroup_mounts(mountinfo if mountinfo is not None else read_text(Path("/proc/self/mountinfo")))
    if v2 is not None and {"memory", "pids"} <= set(read_text(v2 / "cgroup.controllers").split()):
        return CgroupV2(v2, parent)
    if v1:
        return CgroupV1(v1, parent)
    raise CgroupUnavailable("no usable cgroup hierarchy (memory and pids limits are required)")
