"""What a sandbox case (tests/integration/sandbox_cases/) cannot say in plain expectations: the
values its texts name in braces, and the checks it names in `checks:`. Each check gets the run's
body and the `run` fixture (to run something after it)."""
import json
from pathlib import Path

from sandbox import registry
from sandbox.jail import JAIL_ENV, TMP_INODES
from sandbox.settings import SandboxSettings
from sandbox.workdir import WORK_INODES

DEFAULTS = SandboxSettings(nsjail="", tini="", runs_dir=Path("."))  # what the test worker runs with
PYTHON = registry().get("python")

# the values case.yml texts name in braces
VALUES = {
    "tmp_bytes": DEFAULTS.tmp_mb << 20,
    "file_size_bytes": DEFAULTS.file_size_mb << 20,
    "tmp_inodes": TMP_INODES - 1,  # less the root dir
    "work_inodes": WORK_INODES - 3,  # less the root dir, main.py and out/ (docs/artifacts.md)
    "python_forks": PYTHON.pids - 2,  # the cap counts tini and the program itself
}


# -- named checks (case.yml `checks:`): what a plain expectation cannot say ----------------------

def cpu_time_within_one_cpu(body: dict, run) -> None:
    assert body["cpu_time"] <= body["execution_time"] * 1.0 + 0.3, body  # quota: 1 CPU, not 2 cores


def the_worker_serves_the_next_run(body: dict, run) -> None:
    assert run(code="print('still serving')")["stdout"] == "still serving\n"


def _kept_at_the_cap(stream: str):
    def check(body: dict, run) -> None:
        assert len(body[stream]) == DEFAULTS.output_limit_bytes and body["truncated"][stream] is True, (
            {k: body[k] for k in ("status", "message", "execution_time")})
    check.__name__ = f"{stream}_kept_at_the_cap"
    return check


def environment_is_the_jails(body: dict, run) -> None:
    assert json.loads(body["stdout"]) == {**JAIL_ENV, **PYTHON.env}  # nothing of the worker's own environment


def node_environment_is_the_jails(body: dict, run) -> None:
    assert body["status"] == "success", body
    env = dict(line.split("=", 1) for line in body["stdout"].splitlines())
    assert env == {**JAIL_ENV, **registry().get("javascript").env, "PWD": "/work"}


def dev_read_only_and_passwd_names_the_jail_user(body: dict, run) -> None:
    devices, mkdir, passwd, uid = body["stdout"].splitlines()
    assert (devices, mkdir) == ("['null', 'random', 'urandom', 'zero']", "Read-only file system")
    assert passwd == f"sandbox:x:{uid}:{uid}:sandbox:/work:/bin/sh"  # the uid the jail runs as


def mounts_nosuid_and_only_dev_binds_honour_devices(body: dict, run) -> None:
    mounts = dict(line.split(" ") for line in body["stdout"].splitlines())
    assert {"/usr", "/lib", "/bin", "/etc/passwd", "/tmp", "/work", "/proc", "/dev/null"} <= set(mounts), mounts
    for point, options in mounts.items():
        if point != "/":  # the jail's own read-only tmpfs root: nothing on it but mount points
            assert "nosuid" in options.split(","), (point, options)
        if point != "/" and not point.startswith("/dev/"):
            assert "nodev" in options.split(","), (point, options)


CHECKS = {check.__name__: check for check in (
    cpu_time_within_one_cpu, the_worker_serves_the_next_run, _kept_at_the_cap("stdout"), _kept_at_the_cap("stderr"),
    environment_is_the_jails, node_environment_is_the_jails, dev_read_only_and_passwd_names_the_jail_user,
    mounts_nosuid_and_only_dev_binds_honour_devices)}
