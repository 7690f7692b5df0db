"""The submissions directory of `codestudio grade`: one submission per file or subdirectory. A
submission the API would refuse (a file name it cannot take, a name or content that is not UTF-8)
is skipped with a message naming the file, so one bad file never stops the class being graded."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import click

from sandbox.filenames import FileNameError, check_layout, normal_name

MAX_ID_CHARS = 200  # the API's limit on a submission id
MAX_FILES = 32  # the API's limit on files per submission


class BadSubmission(ValueError):
    """Why the submission holding `path` cannot be sent."""

    def __init__(self, path: Path, reason: str):
        super().__init__(reason)
        self.path, self.reason = path, reason


@dataclass(frozen=True)
class Skipped:
    path: Path
    reason: str

    def __str__(self) -> str:
        return f"skipped {shown(self.path)}: {self.reason}"


@dataclass(frozen=True)
class Discovered:
    submissions: list[dict]
    skipped: list[Skipped]


def shown(path: Path | str) -> str:
    """A path as one printable line: undecodable bytes as \\xNN, control characters escaped."""
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def _text(value: str, path: Path, what: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # os.fsdecode keeps undecodable bytes as lone surrogates
        raise BadSubmission(path, f"{what} is not UTF-8") from None
    return value


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BadSubmission(path, "not UTF-8 text") from None


def _visible(path: Path) -> bool:
    return not path.name.startswith(".") and not path.is_symlink()


def _tree(root: Path) -> list[str]:
    """Regular files under root, relative POSIX names; hidden entries and symlinks skipped."""
    names = []
    for folder, dirs, files in os.walk(root):  # followlinks=False: symlinked dirs are not entered
        dirs[:] = [d for d in dirs if _visible(Path(folder, d))]
        names += [Path(folder, f).relative_to(root).as_posix() for f in files
                  if _visible(Path(folder, f)) and Path(folder, f).is_file()]
    return sorted(names)


def entry_first(names: list[str], main: str | None) -> list[str]:
    """The language's entry name if present, else a file whose stem is main/Main (shallowest), else the first."""
    if not names:
        return []
    mains = [n for n in names if PurePosixPath(n).stem in ("main", "Main")]
    entry = main if main in names else min(mains, key=lambda n: (n.count("/"), n)) if mains else names[0]
    return [entry, *(n for n in names if n != entry)]


def _file_name(root: Path, name: str) -> str:
    """The name as the API will take it (its normal form), else BadSubmission naming the file."""
    try:
        return normal_name(_text(name, root / name, "the file name"))
    except FileNameError as exc:
        raise BadSubmission(root / name, f"the API refuses its name: {exc.reason}") from None


def _files(root: Path, main: str | None) -> list[dict]:
    names = entry_first(_tree(root), main)
    if len(names) > MAX_FILES:
        raise BadSubmission(root, f"{len(names)} files; a submission may have at most {MAX_FILES}")
    files = [{"name": _file_name(root, name), "content": _read(root / name)} for name in names]
    try:
        check_layout([f["name"] for f in files])
    except FileNameError as exc:
        raise BadSubmission(root / exc.name, f"the API refuses its name: {exc.reason}") from None
    return files


def _submission(path: Path, main: str | None) -> dict | None:
    ref = _text(path.name if path.is_dir() else path.stem, path, "the name")
    if not ref or len(ref) > MAX_ID_CHARS:
        raise BadSubmission(path, f"a submission id must be 1-{MAX_ID_CHARS} characters")
    if path.is_dir():
        files = _files(path, main)
        return {"id": ref, "files": files} if files else None
    return {"id": ref, "code": _read(path)} if path.is_file() else None


def discover_submissions(directory: Path, main: str | None) -> Discovered:
    """One submission per regular file (id: the name without extension) or per subdirectory (id: its
    name). Two with the same id (a.py, a.txt) are left to the API, which refuses them naming the id."""
    found, skipped = [], []
    for path in sorted(directory.iterdir()):
        if not _visible(path):
            continue
        try:
            found.append(_submission(path, main))
        except BadSubmission as exc:
            skipped.append(Skipped(exc.path, exc.reason))
    submissions = [sub for sub in found if sub]
    if not submissions:
        reasons = "".join(f"; {skip}" for skip in skipped[:3])
        raise click.BadParameter(f"no submissions in {shown(directory)}{reasons}", param_hint="SUBMISSIONS")
    return Discovered(submissions, skipped)
