"""The start-up sweep of what dead workers left behind: run dirs (tmpfs mounts) and run cgroups.

After a crash several workers, and each of their pool processes, start at once and sweep the
same leftovers, so anything may vanish under a sweeper at any moment. Each leftover is removed
on its own: one already gone counts as swept, one that cannot be removed is logged and skipped.
A leftover never stops a worker from starting.
"""
from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import cgroups, workdir

log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    swept: int = 0
    skipped: list[str] = field(default_factory=list)  # leftovers that could not be removed (logged)


def _stale_names(directory: Path, is_stale: Callable[[str], bool]) -> list[str]:
    """Names in `directory` that a dead owner left; none if the directory is gone or unreadable."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    except OSError as exc:
        log.warning("cannot list %s for leftovers: %s", directory, exc)
        return []
    return sorted(name for name in names if is_stale(name))


def _remove(report: SweepReport, what: str, remove: Callable[[], None]) -> None:
    try:
        remove()
    except Exception as exc:  # anything about one leftover is logged, never fatal
        log.warning("could not sweep %s: %s: %s", what, type(exc).__name__, exc)
        report.skipped.append(what)
    else:
        report.swept += 1


def sweep(runs_dir: Path, layout: cgroups.Layout, is_stale: Callable[[str], bool]) -> SweepReport:
    """Remove the run dirs and run cgroups whose names `is_stale` says a dead worker left."""
    report = SweepReport()
    for name in _stale_names(runs_dir, is_stale):
        path = runs_dir / name
        _remove(report, f"run dir {path}", functools.partial(workdir.remove, path))
    names = {name for parent in cgroups.parent_dirs(layout) for name in _stale_names(parent, is_stale)}
    for name in sorted(names):  # once per run, across every controller's hierarchy
        _remove(report, f"cgroup {name}", cgroups.RunCgroup(layout, name).destroy)
    return report
