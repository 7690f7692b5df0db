"""A jail's host identity: its uid and gid, and the /etc/passwd and /etc/group it sees
(leased by sandbox/uids.py, bound into the jail by sandbox/jail.py)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class JailIds:
    """A jail's host uid and gid (the same number), and its /etc/passwd and /etc/group;
    lease_fd: the fd holding the lease, for nsjail to inherit (None: not leased here)."""
    uid: int
    passwd: Path
    group: Path
    lease_fd: int | None = field(default=None, compare=False)

    @property
    def gid(self) -> int:
        return self.uid


def identity(lease_dir: Path, uid: int, lease_fd: int | None = None) -> JailIds:
    return JailIds(uid, lease_dir / f"{uid}.passwd", lease_dir / f"{uid}.group", lease_fd)
