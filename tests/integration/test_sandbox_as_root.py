"""The sandbox library's parts that need root, without starting a jail: the nsjail command for a
work dir a jail's uid owns, and the ownership rules for the runs dir's ancestors
(tests/unit/test_sandbox.py: the pure parts)."""
import os
from pathlib import Path

import pytest

from sandbox.jail import StageLimits, expand, jail_command, jail_ids
from sandbox.registry import registry
from sandbox.settings import SandboxSettings
from sandbox.uids import UidPoolError

pytestmark = pytest.mark.sandbox  # the database and Redis behind it do not matter: one CI pass


def test_nsjail_argv_runs_as_its_work_dirs_leased_uid_and_never_enables_network(tmp_path):
    settings = SandboxSettings(nsjail="/bin/nsjail", tini="/usr/bin/tini-static", runs_dir=tmp_path)
    lang = registry().get("python")
    (tmp_path / "w").mkdir()
    with pytest.raises(UidPoolError, match="not mounted for a jail"):
        jail_ids(settings, tmp_path / "w")  # root's: never a jail's identity
    uid = settings.uid_first + 7
    os.chown(tmp_path / "w", uid, uid)
    with jail_command(settings, lang, jail_ids(settings, tmp_path / "w"), tmp_path / "w",
                      expand(lang.run, lang, 256) + ["a b", "$HOME"], StageLimits(2.5, 2.5, 256, 64), 5, []) \
            as (argv, (config_fd,)):
        config = os.pread(config_fd, 1 << 20, 0).decode()
    assert argv[argv.index("--config") + 1] == f"/proc/self/fd/{config_fd}"
    assert argv[argv.index("--user") + 1] == argv[argv.index("--group") + 1] == f"{uid}:{uid}:1"
    assert (f'mount {{ src: "{settings.uid_lease_dir}/{uid}.passwd" dst: "/etc/passwd" is_bind: true rw: false '
            "nosuid: true nodev: true mandatory: false }") in config
    assert 'mount { src: "/usr" dst: "/usr" is_bind: true rw: false nosuid: true nodev: true' in config
    assert f'mount {{ src: "{tmp_path / "w"}" dst: "/work" is_bind: true rw: true nosuid: true nodev: true }}' in config
    assert not {"-R", "-B", "-m"} & set(argv[:argv.index("--")])  # nsjail flags cannot say nosuid
    assert argv[argv.index("--time_limit") + 1] == "3"
    assert not any("clone_newnet" in a or "disable_clone" in a for a in argv)
    assert argv[-2:] == ["a b", "$HOME"]  # user args stay single argv elements
    assert argv[argv.index("--") + 1:argv.index("--") + 4] == ["/usr/bin/tini-static", "-s", "--"]


def test_runs_dir_ancestors_must_not_be_symlinks_or_writable():
    import shutil
    import tempfile

    from sandbox.workdir import WorkdirError, check_ancestors

    base = Path(tempfile.mkdtemp(prefix="cs-ancestors-"))  # under sticky /tmp, like a real deployment may be
    try:
        _check_ancestor_rules(base, check_ancestors, WorkdirError)
    finally:
        shutil.rmtree(base)


def _check_ancestor_rules(base, check_ancestors, WorkdirError):
    base.chmod(0o711)
    real = base / "real"
    real.mkdir()
    real.chmod(0o711)
    (base / "link").symlink_to(real)
    check_ancestors(real)
    with pytest.raises(WorkdirError, match="symlink"):
        check_ancestors(base / "link")
    real.chmod(0o777)
    with pytest.raises(WorkdirError, match="not group/other-writable"):
        check_ancestors(real)
