"""The files a program left under /work/out/ (the work dir's `out/`), taken after its run stage.

The jail wrote them, so they are hostile: read only through directory fds (sandbox/safefs.py);
symlinks, FIFOs, sockets, devices, hard links and files the jail user does not own are skipped;
subdirectories are walked to a bounded depth. The caps are checked on fstat sizes BEFORE a file is
read, so a huge (even sparse) file costs one fstat: it is refused by its size, never read.
"""
from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from . import safefs

OUT_DIR = "out"
MAX_DEPTH = 4  # out/a/b/c/d/file: deeper directories are not walked
MAX_NAME_BYTES = 255  # the whole relative name, as UTF-8
MAX_ENTRIES = 10000  # entries looked at in all (a tmpfs holds at most WORK_INODES anyway)


@dataclass(frozen=True)
class OutputCaps:
    """What one run may keep; `owner` names who sets them in a note ("the free tier")."""
    files: int
    total_bytes: int
    owner: str = "this run"


@dataclass(frozen=True)
class OutputFile:
    name: str  # relative to /work/out/, "/"-separated: "plots/a.png"
    content: bytes = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass(frozen=True)
class Outputs:
    """The files kept, and how many others were found and left for a cap or as unsafe."""
    files: tuple[OutputFile, ...] = ()
    over_count: int = 0  # regular files left because the count cap was reached
    over_size: int = 0  # regular files left because they would pass the size cap
    unsafe: int = 0  # symlinks, special files, hard links, others' files, bad names, too deep
    caps: OutputCaps | None = None

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def note(self) -> str | None:
        """Why not every file was kept, in words; None when all were."""
        parts = []
        if self.over_count or self.over_size:
            assert self.caps is not None
            found = len(self.files) + self.over_count + self.over_size
            why = []
            if self.over_count:
                why.append(f"{self.caps.owner} keeps at most {self.caps.files} files per run")
            if self.over_size:
                why.append(f"{self.caps.owner} keeps at most {_megabytes(self.caps.total_bytes)} of files per run")
            parts.append(f"kept {len(self.files)} of {found} files: {' and '.join(why)}")
        if self.unsafe:
            parts.append(f"{self.unsafe} entries under /work/out/ were not kept: only regular files of the "
                         f"program's own (no links, no special files) at most {MAX_DEPTH} directories deep are")
        return "; ".join(parts) or None


def _megabytes(size: int) -> str:
    return f"{size / (1 << 20):g} MB"


def safe_name(name: str) -> bool:
    """A name a download may carry: valid UTF-8, no control or format characters, no `.`/`..`."""
    if name in ("", ".", "..") or "\\" in name:
        return False
    try:
        name.encode("utf-8")  # undecodable bytes arrive as lone surrogates, which do not encode
    except UnicodeEncodeError:
        return False
    return not any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in name)


@dataclass
class _Walk:
    caps: OutputCaps
    owner: int
    dev: int
    kept: list[OutputFile] = field(default_factory=list)
    budget: int = 0
    over_count: int = 0
    over_size: int = 0
    unsafe: int = 0
    seen: int = 0

    def directory(self, dir_fd: int, prefix: str, depth: int) -> None:
        for name, is_dir, is_file in safefs.entries(dir_fd):
            self.seen += 1
            if self.seen > MAX_ENTRIES:
                return
            full = prefix + name
            if not safe_name(name) or len(full.encode()) > MAX_NAME_BYTES:
                self.unsafe += 1
            elif is_dir:
                self._subdirectory(dir_fd, name, full, depth)
            elif is_file:
                self._file(dir_fd, name, full)
            else:  # a symlink, FIFO, socket or device: not even opened
                self.unsafe += 1

    def _subdirectory(self, dir_fd: int, name: str, full: str, depth: int) -> None:
        if depth >= MAX_DEPTH:
            self.unsafe += 1
            return
        with safefs.opened_dir(name, dir_fd) as sub_fd:
            if sub_fd is None or os.fstat(sub_fd).st_dev != self.dev:
                self.unsafe += 1
                return
            self.directory(sub_fd, full + "/", depth + 1)

    def _file(self, dir_fd: int, name: str, full: str) -> None:
        with safefs.opened(name, dir_fd) as fd:
            st = os.fstat(fd) if fd is not None else None
            if fd is None or st is None or not safefs.own_regular(st, self.owner, self.dev, single_link=True):
                self.unsafe += 1
            elif len(self.kept) >= self.caps.files:
                self.over_count += 1
            elif st.st_size > self.budget:  # by its size as it stands: nothing of it is read
                self.over_size += 1
            else:
                content = safefs.read_upto(fd, st.st_size)
                self.kept.append(OutputFile(full, content))
                self.budget -= len(content)


def prepare(work_path: Path) -> None:
    """Make the work dir's out/ (empty, the jail user's) before a run stage. One the compile stage
    made stays as it is: the walk reads it with the same distrust, and a symlink there is refused."""
    root_fd = os.open(work_path, safefs.DIR_FLAGS)
    try:
        owner = os.fstat(root_fd)
        try:
            os.mkdir(OUT_DIR, 0o755, dir_fd=root_fd)
        except FileExistsError:
            return
        os.chown(OUT_DIR, owner.st_uid, owner.st_gid, dir_fd=root_fd, follow_symlinks=False)
    finally:
        os.close(root_fd)


def collect(work_path: Path, caps: OutputCaps) -> Outputs:
    """The regular files under work_path/out/ within the caps, in name order (a directory's files
    before those of its subdirectories' that sort after them)."""
    with safefs.opened_dir(str(work_path)) as root_fd:
        if root_fd is None:
            return Outputs(caps=caps)
        root = os.fstat(root_fd)
        with safefs.opened_dir(OUT_DIR, root_fd) as out_fd:
            if out_fd is None:  # never made, or replaced by a symlink or a file
                return Outputs(caps=caps)
            walk = _Walk(caps, root.st_uid, root.st_dev, budget=caps.total_bytes)
            if os.fstat(out_fd).st_dev == root.st_dev:
                walk.directory(out_fd, "", 0)
    return Outputs(tuple(walk.kept), walk.over_count, walk.over_size, walk.unsafe, caps)
