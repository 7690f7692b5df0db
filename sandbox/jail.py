"""Builds the nsjail argv for one stage of a run. Argv lists only, never a shell."""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from . import uids
from .registry import Language
from .settings import SandboxSettings

BASE_BINDS = ("/usr", "/lib", "/lib64", "/bin", "/etc/alternatives", "/etc/ld.so.cache")
JAIL_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/work", "LANG": "C.UTF-8"}
BASE_CONFIG = Path(__file__).with_name("nsjail.cfg")  # no user namespace, /dev, seccomp
TMP_INODES = 4096  # files in the jail's /tmp (a tmpfs of the stage's tmp_mb)


@dataclass(frozen=True)
class StageLimits:
    wall_seconds: float
    cpu_seconds: float
    memory_mb: int
    pids: int
    tmp_mb: int = 16


def heap_mb(memory_mb: int) -> int:
    """Runtime heap cap below the cgroup limit, so the runtime fails first and says so."""
    return max(16, int(memory_mb * 0.75))


def entry_file(lang: Language, code: str) -> str:
    """The entry file's name: fixed, or taken from the code where the language insists
    (Java: a public class must live in <Name>.java)."""
    if lang.entry_regex:
        match = re.search(lang.entry_regex, code)
        if match:
            return match.group(1) + lang.extension
    return lang.main


def expand(template: tuple[str, ...], lang: Language, memory_mb: int, main: str | None = None,
           file_names: tuple[str, ...] = ()) -> list[str]:
    """Fill a definition's argv template: {main} (entry file), {entry} (its name without
    extension), {heap_mb}, {memory_mb}; `{sources}` (a whole element) becomes the entry file
    plus every extra file with the language's extension, one element each; `{others}` just
    those extra files."""
    main = main or lang.main
    values = {"main": main, "entry": PurePosixPath(main).stem, "heap_mb": heap_mb(memory_mb),
              "jvm_heap_mb": max(16, int(memory_mb * 0.6)), "memory_mb": memory_mb}
    argv = []
    for part in template:
        others = sorted(n for n in file_names if n.endswith(lang.extension) and n != main)
        if part == "{sources}":
            argv += [main, *others]
        elif part == "{others}":  # for compilers that need dependencies before the entry file
            argv += others
        else:
            argv.append(part.format(**values))
    return argv


def _binds(lang: Language) -> list[str]:
    argv = []
    for bind in (*BASE_BINDS, *lang.profile.binds, *lang.binds):  # "path" or "host:jail"
        if os.path.exists(bind.partition(":")[0]):
            argv += ["-R", bind]
    return argv


def _identity(settings: SandboxSettings, workdir: Path) -> list[str]:
    """The jail runs as the host uid its work dir was mounted for, leased for this jail alone
    (sandbox/uids.py): never root, never a host account, never another jail's."""
    uid = os.stat(workdir).st_uid
    if uid not in settings.uid_range:
        raise uids.UidPoolError(f"{workdir} was not mounted for a jail (owner uid {uid})")
    ids = uids.identity(settings.uid_lease_dir, uid)
    return ["--user", f"{ids.uid}:{ids.uid}:1", "--group", f"{ids.gid}:{ids.gid}:1",
            "-R", f"{ids.passwd}:/etc/passwd", "-R", f"{ids.group}:/etc/group"]


def nsjail_argv(
    settings: SandboxSettings, lang: Language, workdir: Path, command: list[str],
    limits: StageLimits, log_fd: int, cgroup_flags: list[str],
) -> list[str]:
    env = {**JAIL_ENV, **lang.env}
    argv = [
        settings.nsjail, "--config", str(BASE_CONFIG), "--mode", "o", "--log_fd", str(log_fd),
        *_identity(settings, workdir),
        "--hostname", "sandbox", "--cwd", "/work",
        "--time_limit", str(max(1, math.ceil(limits.wall_seconds))),
        "--rlimit_cpu", str(max(1, math.ceil(limits.cpu_seconds)) + 1),
        "--rlimit_as", "inf", "--rlimit_fsize", str(settings.file_size_mb),
        "--rlimit_nofile", str(lang.open_files or settings.open_files), "--rlimit_nproc", "max",
        "--rlimit_core", "0", "--rlimit_stack", "8",
        *_binds(lang),
        "-m", f"none:/tmp:tmpfs:size={limits.tmp_mb * 1024 * 1024},nr_inodes={TMP_INODES},mode=1777",
        "-B", f"{workdir}:/work",
        *cgroup_flags,
    ]
    if lang.proc:  # read-only procfs; the base config mounts none
        argv += ["--proc_path", "/proc"]
    for key, value in env.items():
        argv += ["--env", f"{key}={value}"]
    return argv + ["--", settings.tini, "-s", "--", *command]
