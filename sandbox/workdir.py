"""Per-run work directories: a fresh tmpfs per run, filled before the jail starts.

The worker writes inputs only before untrusted code runs (O_EXCL|O_NOFOLLOW, relative
to a directory fd) and never touches the directory afterwards: cleanup is a lazy
unmount, which discards the whole tmpfs without walking (or following) anything in it.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import stat
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from . import filenames
from .identity import JailIds

MNT_DETACH = 2
MS_NOSUID, MS_NODEV = 2, 4
WORK_INODES = 4096  # files in a run's /work

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


class WorkdirError(RuntimeError):
    pass


class FileLayoutError(WorkdirError):
    """The run's files cannot all be placed (one name twice, a file where another needs a
    directory): the request's mistake, answered as such and never retried."""


def check_layout(names: Iterable[str]) -> None:
    """Checked before anything is written: the APIs refuse such names, stored ones may predate that."""
    try:
        filenames.check_layout(names)
    except filenames.FileNameError as exc:
        raise FileLayoutError(f"the input files cannot be placed: {exc}") from None


def _mount_tmpfs(target: Path, size_mb: int, uid: int, gid: int) -> None:
    options = f"size={size_mb}m,nr_inodes={WORK_INODES},mode=0700,uid={uid},gid={gid}"
    rc = _libc.mount(b"tmpfs", os.fsencode(target), b"tmpfs", MS_NOSUID | MS_NODEV, options.encode())
    if rc != 0:
        err = ctypes.get_errno()
        raise WorkdirError(f"mount tmpfs on {target}: {os.strerror(err)}")


def _unmount(target: Path) -> None:
    if _libc.umount2(os.fsencode(target), MNT_DETACH) != 0:
        err = ctypes.get_errno()
        if err not in (22, 2):  # EINVAL: not a mount point; ENOENT: already gone
            raise WorkdirError(f"umount {target}: {os.strerror(err)}")


def _open_parent(root_fd: int, parts: tuple[str, ...], owner: os.stat_result) -> int:
    """Walk/create directories below root_fd without following symlinks."""
    fd = os.dup(root_fd)
    for part in parts:
        try:
            os.mkdir(part, 0o755, dir_fd=fd)
            os.chown(part, owner.st_uid, owner.st_gid, dir_fd=fd, follow_symlinks=False)
        except FileExistsError:
            pass
        next_fd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
        os.close(fd)
        fd = next_fd
    return fd


def write_file(root_fd: int, name: str, content: bytes, mode: int = 0o644) -> None:
    """Files belong to the work dir's owner: the uid its jail runs as (see Workdir)."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise WorkdirError(f"unsafe file name: {name!r}")
    owner = os.fstat(root_fd)
    dir_fd = _open_parent(root_fd, path.parts[:-1], owner)
    try:
        fd = os.open(path.name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode, dir_fd=dir_fd)
        try:
            os.fchown(fd, owner.st_uid, owner.st_gid)
            view = memoryview(content)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
    finally:
        os.close(dir_fd)


class Workdir:
    """A tmpfs mounted at runs_dir/<name>, bound into the jail as /work, owned by the uid leased
    for its jail (the jail runs as its work dir's owner, which nothing in a jail can change);
    without one, by root, and no jail is started in it."""

    def __init__(self, runs_dir: Path, name: str, size_mb: int, ids: JailIds | None = None):
        self.path = runs_dir / name
        self.size_mb = size_mb
        self.ids = ids

    def __enter__(self) -> Workdir:
        self.path.mkdir(mode=0o700)
        try:
            _mount_tmpfs(self.path, self.size_mb, *((self.ids.uid, self.ids.gid) if self.ids else (0, 0)))
        except Exception:
            self.path.rmdir()
            raise
        return self

    def write_files(self, files: list[tuple[str, bytes]]) -> None:
        check_layout(name for name, _ in files)
        root_fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            for name, content in files:
                write_file(root_fd, name, content)
        finally:
            os.close(root_fd)

    def __exit__(self, *exc: object) -> None:
        remove(self.path)


def remove(path: Path) -> None:
    _unmount(path)
    try:
        path.rmdir()
    except FileNotFoundError:
        pass


def check_ancestors(path: Path) -> None:
    """The runs dir and every directory above it must be real directories (no symlink),
    root-owned, not writable by others unless sticky like /tmp (nothing can be planted or
    swapped on the path), and traversable (the jail binds from it)."""
    path = Path(os.path.abspath(path))
    for parent in (path, *path.parents):
        st = os.lstat(parent)
        if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
            raise WorkdirError(f"{parent} must be a directory, not a symlink")
        if st.st_uid != 0 or (st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX):
            raise WorkdirError(f"{parent} must be root-owned and not group/other-writable")
        if not st.st_mode & 0o001:
            raise WorkdirError(f"{parent} must be traversable by others (mode o+x) for the jail")


def prepare_runs_dir(runs_dir: Path) -> None:
    existing = Path(os.path.abspath(runs_dir))
    while not os.path.lexists(existing):
        existing = existing.parent
    check_ancestors(existing)  # before creating anything below it
    runs_dir.mkdir(mode=0o711, parents=True, exist_ok=True)
    check_ancestors(runs_dir)
    os.chown(runs_dir, 0, 0)
    os.chmod(runs_dir, 0o711)
