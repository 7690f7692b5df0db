"""Builds the nsjail argv for one stage of a run. Argv lists only, never a shell."""
from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath

from . import uids
from .identity import JailIds, identity
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


def jvm_file_class(file_name: str) -> str:
    """The class kotlinc names after a source file: its stem with characters a Java identifier
    cannot hold made `_`, `_`-prefixed if it starts with one it cannot start with, capitalized
    (`test.kt` -> `Test`, `my-app.kt` -> `My_app`); the caller appends `Kt`."""
    stem = PurePosixPath(file_name).stem
    name = "".join(c if c.isalnum() or c in "_$" else "_" for c in stem)
    if not name or not (name[0].isalpha() or name[0] in "_$"):
        name = "_" + name
    return name[0].upper() + name[1:]


def expand(template: tuple[str, ...], lang: Language, memory_mb: int, main: str | None = None,
           file_names: tuple[str, ...] = ()) -> list[str]:
    """Fill a definition's argv template: {main} (entry file), {entry} (its name without
    extension), {file_class} (the JVM class kotlinc makes of it), {heap_mb}, {memory_mb};
    `{sources}` (a whole element) becomes the entry file plus every extra file with the
    language's extension, one element each; `{others}` just those extra files."""
    main = main or lang.main
    values = {"main": main, "entry": PurePosixPath(main).stem, "file_class": jvm_file_class(main),
              "heap_mb": heap_mb(memory_mb),
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


def _binds(lang: Language) -> list[tuple[str, str]]:
    binds = []
    for bind in (*BASE_BINDS, *lang.profile.binds, *lang.binds):  # "path" or "host:jail"
        host, _, inside = bind.partition(":")
        if os.path.exists(host):
            binds.append((host, inside or host))
    return binds


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _read_only(host: str, inside: str) -> str:
    """A read-only bind, nosuid and nodev: the jail runs as a host uid with no user namespace,
    so a setuid-root binary it can reach would otherwise be honoured (but for no_new_privs).
    nsjail's -R cannot say nosuid: hence the config."""
    return (f"mount {{ src: {_quoted(host)} dst: {_quoted(inside)} is_bind: true rw: false "
            "nosuid: true nodev: true mandatory: false }\n")


@cache
def _base_config() -> str:
    return BASE_CONFIG.read_text()


def jail_ids(settings: SandboxSettings, workdir: Path,
             lease_fd_of: Callable[[int], int | None] = lambda uid: None) -> JailIds:
    """The jail runs as the host uid its work dir was mounted for, leased for this jail alone
    (sandbox/uids.py): never root, never a host account, never another jail's. `lease_fd_of`
    gives the fd holding that lease, for nsjail to hold too."""
    uid = os.stat(workdir).st_uid
    if uid not in settings.uid_range:
        raise uids.UidPoolError(f"{workdir} was not mounted for a jail (owner uid {uid})")
    return identity(settings.uid_lease_dir, uid, lease_fd_of(uid))


def nsjail_config(ids: JailIds, lang: Language, workdir: Path, limits: StageLimits) -> str:
    """The static config plus this stage's mounts: the read-only binds, the identity files, /tmp,
    /work and /proc (in this order: a TypeScript compile fails with /proc mounted before /work)."""
    binds = [*_binds(lang), (str(ids.passwd), "/etc/passwd"), (str(ids.group), "/etc/group")]
    tmp = f"size={limits.tmp_mb * 1024 * 1024},nr_inodes={TMP_INODES},mode=1777"
    proc = 'mount { dst: "/proc" fstype: "proc" rw: false nosuid: true nodev: true }\n' if lang.proc else ""
    work = f'mount {{ src: {_quoted(str(workdir))} dst: "/work" is_bind: true rw: true nosuid: true nodev: true }}\n'
    return (_base_config() + "".join(_read_only(host, inside) for host, inside in binds)
            + f'mount {{ dst: "/tmp" fstype: "tmpfs" options: "{tmp}" rw: true nosuid: true nodev: true }}\n'
            + work
            + proc)  # read-only procfs where the language needs one; the base config mounts none


@contextmanager
def jail_command(
    settings: SandboxSettings, lang: Language, ids: JailIds, workdir: Path, command: list[str],
    limits: StageLimits, log_fd: int, cgroup_flags: list[str],
) -> Iterator[tuple[list[str], tuple[int, ...]]]:
    """The nsjail argv and the fds nsjail must inherit: its config (a memfd: nothing on disk to
    guard; closed on exit) first, then the uid lease, so the lease stays taken while nsjail lives."""
    config_fd = os.memfd_create("nsjail.cfg", os.MFD_CLOEXEC)
    try:
        os.write(config_fd, nsjail_config(ids, lang, workdir, limits).encode())
        inherited = (config_fd,) if ids.lease_fd is None else (config_fd, ids.lease_fd)
        yield nsjail_argv(settings, lang, ids, command, limits, log_fd, cgroup_flags, config_fd), inherited
    finally:
        os.close(config_fd)


def nsjail_argv(
    settings: SandboxSettings, lang: Language, ids: JailIds, command: list[str],
    limits: StageLimits, log_fd: int, cgroup_flags: list[str], config_fd: int,
) -> list[str]:
    env = {**JAIL_ENV, **lang.env}
    argv = [
        settings.nsjail, "--config", f"/proc/self/fd/{config_fd}", "--mode", "o", "--log_fd", str(log_fd),
        "--user", f"{ids.uid}:{ids.uid}:1", "--group", f"{ids.gid}:{ids.gid}:1",
        "--hostname", "sandbox", "--cwd", "/work",
        "--time_limit", str(max(1, math.ceil(limits.wall_seconds))),
        "--rlimit_cpu", str(max(1, math.ceil(limits.cpu_seconds)) + 1),
        "--rlimit_as", "inf", "--rlimit_fsize", str(settings.file_size_mb),
        "--rlimit_nofile", str(lang.open_files or settings.open_files), "--rlimit_nproc", "max",
        "--rlimit_core", "0", "--rlimit_stack", "8",
        *cgroup_flags,
    ]
    for key, value in env.items():
        argv += ["--env", f"{key}={value}"]
    return argv + ["--", settings.tini, "-s", "--", *command]
