"""The parent cgroup that holds every run cgroup: where the start-up sweep (sandbox/sweep.py) looks
for what dead workers left, and what a torn-down deployment removes."""
from __future__ import annotations

from pathlib import Path

from .layout import Layout


def parent_dirs(layout: Layout) -> set[Path]:
    """The parent cgroup's directory in each hierarchy (one on v2)."""
    return {d.parent for d in layout.dirs("x")}


def remove_parent(layout: Layout) -> None:
    """Remove the (empty) parent cgroup, e.g. when a test deployment is torn down."""
    for parent in parent_dirs(layout):
        try:
            parent.rmdir()
        except (FileNotFoundError, OSError):
            pass
