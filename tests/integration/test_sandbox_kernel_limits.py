"""What the kernel counts per user cannot be used up by one run for another run or for the host.

For each resource a run through the worker takes all it can (tests/kernel_limits_program.py,
`hog`) and holds it; meanwhile a second run through the worker, root on the host and a host
process of the `nobody` user each take one unit (`probe`), and all must get it."""
import dataclasses
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from sandbox import uids
from sandbox.runner import Runner
from sandbox.settings import SandboxSettings
from sandbox.uids import UidPool, UidPoolError, UidRange
from tests.support.polling import wait_until
from tests.support.sandbox_suite import remove_test_parent, submit, wait_final

pytestmark = pytest.mark.sandbox  # the database and Redis behind it do not matter: one CI pass

PROGRAM = (Path(__file__).parents[1] / "support" / "kernel_limits_program.py").read_text()
HOST_PYTHON = "/usr/bin/python3"  # the jail's python, so host and jail run the same program
NOBODY = 65534
LIMITS = {"timeout": 30, "memory_mb": 512}

# resource: what the hog's last refused attempt gets when it has used its own share up
EXHAUSTED = {
    "inotify_instances": "EMFILE",
    "inotify_watches": "ENOSPC",
    "posix_mqueues": "EMFILE",
    "sysv_msg_queues": "ENOSPC",
    "pipe_pages": "EPERM",
    "inflight_fds": "ETOOMANYREFS",
    "pending_signals": "EAGAIN",
}


def _hog_args(resource: str, token: str) -> list[str]:
    args = [resource, "hog", token]
    if resource == "inotify_watches":  # the hog watches enough files to pass this host's limit
        args.append(Path("/proc/sys/fs/inotify/max_user_watches").read_text().strip())
    return args


def _hog_dir(runs_dir: Path, token: str, client, user, hog_id: str, seconds: float = 60) -> Path:
    """The hog's work dir (on the host), once the hog has taken all it could."""
    def ready() -> Path | None:
        for work in runs_dir.iterdir():
            if (work / f"ready-{token}").exists():
                return work
        body = client.get(f"/codestudio/executions/{hog_id}", headers=user["headers"]).get_json()
        assert body["status"] in ("queued", "running"), f"the hog ended before it was ready: {body}"
        return None

    return wait_until(ready, seconds, what="the hog getting ready")


def _host_probe(resource: str, uid: int | None = None) -> str:
    done = subprocess.run([HOST_PYTHON, "-c", PROGRAM, resource, "probe"], capture_output=True, text=True,
                          timeout=30, cwd="/", user=uid, env={"PATH": "/usr/bin:/bin"}, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("resource", sorted(EXHAUSTED))
def test_a_run_using_up_a_per_user_kernel_resource_leaves_it_to_other_runs_and_the_host(
        resource, client, user, worker, stack_env):
    token = uuid.uuid4().hex
    hog_id = submit(client, user, "python", PROGRAM, args=_hog_args(resource, token), limits=LIMITS)
    work = _hog_dir(Path(stack_env["SANDBOX_RUNS_DIR"]), token, client, user, hog_id)
    try:
        probe_id = submit(client, user, "python", PROGRAM, args=[resource, "probe"], limits=LIMITS)
        other_run, _ = wait_final(client, user, probe_id)
        host_root, host_nobody = _host_probe(resource), _host_probe(resource, NOBODY)
    finally:
        (work / "release").touch()
    hog, _ = wait_final(client, user, hog_id)
    assert hog["status"] == "success", hog
    assert hog["stdout"].startswith(f"exhausted {EXHAUSTED[resource]} after "), hog  # it did use its share up
    assert other_run["status"] == "success", other_run
    assert (other_run["stdout"].strip(), host_root, host_nobody) == ("ok", "ok", "ok"), hog["stdout"]


# -- the uid leases behind it (sandbox/uids.py) --------------------------------------------------

LEASE_ONE = """import sys
from pathlib import Path
from sandbox.uids import UidPool, UidRange
with UidPool(UidRange(int(sys.argv[1]), int(sys.argv[2])), Path(sys.argv[3])).lease() as ids:
    print(ids.uid, flush=True)
    sys.stdin.read()  # held until the test closes stdin
"""


@pytest.fixture
def lease_dir():
    root = Path(tempfile.mkdtemp(prefix="cs-leases-"))
    root.chmod(0o711)  # as the jail's identity files need
    yield root / "uids"
    shutil.rmtree(root)


def _lease_elsewhere(uid_range: UidRange, lease_dir: Path) -> tuple[subprocess.Popen, int]:
    """Another process holding a lease from the same range: (process, its uid)."""
    proc = subprocess.Popen([sys.executable, "-c", LEASE_ONE, str(uid_range.first), str(uid_range.count),
                             str(lease_dir)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    return proc, int(proc.stdout.readline())


def test_processes_and_threads_never_lease_the_same_uid(lease_dir, monkeypatch):
    monkeypatch.setattr(uids, "LEASE_WAIT_SECONDS", 0.3)
    uid_range = UidRange(82000, 2)  # outside the default range: live workers never lease these
    pool = UidPool(uid_range, lease_dir)
    pool.prepare()
    with pool.lease() as mine:
        other, theirs = _lease_elsewhere(uid_range, lease_dir)
        assert {mine.uid, theirs} == {uid_range.first, uid_range.first + 1}
        with pytest.raises(UidPoolError, match="all 2 jail uids are in use"), pool.lease():  # nor for this process
            pass
        other.communicate("")
        with pool.lease() as freed:
            assert freed.uid == theirs
            assert freed.passwd.read_text() == f"sandbox:x:{theirs}:{theirs}:sandbox:/work:/bin/sh\n"


def test_a_forked_child_does_not_keep_its_parents_lease(lease_dir):
    uid_range = UidRange(82005, 1)
    pool = UidPool(uid_range, lease_dir)
    pool.prepare()
    with pool.lease():
        child = os.fork()
        if child == 0:
            time.sleep(30)  # the point: the child lives on, holding whatever it inherited
            os._exit(0)
    try:
        other, uid = _lease_elsewhere(uid_range, lease_dir)  # the parent returned it; the child lives on
        other.communicate("")
        assert uid == uid_range.first
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)


ORPHAN_UID = 81000  # outside the default range
# the jail lists its open fds (the lease must not be among them), then sleeps
ORPHAN = """const fs = require("fs");
const fds = fs.readdirSync("/proc/self/fd").map(f => {
  try { return f + " " + fs.readlinkSync("/proc/self/fd/" + f); } catch (e) { return f; }
});
fs.writeFileSync("fds-TOKEN", fds.join("\\n"));
setTimeout(() => {}, 120000);
"""
RUN_ORPHAN = """import sys
from sandbox.registry import registry
from sandbox.runner import RunSpec
from tests.integration.test_sandbox_kernel_limits import orphan_runner
orphan_runner(sys.argv[1]).run(RunSpec(language=registry().get("javascript"), code=sys.argv[2], timeout=120))
"""


def orphan_runner(lease_dir: str) -> Runner:
    settings = dataclasses.replace(SandboxSettings.from_env(), uid_first=ORPHAN_UID, uid_count=1,
                                   uid_lease_dir=Path(lease_dir), warm_compilers=False, ready_jails=False,
                                   cgroup_parent=f"{os.environ['SANDBOX_CGROUP_PARENT']}-orphan")
    runner = Runner(settings)
    runner.prepare()
    return runner


def _pids_running_as(uid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            line = next(x for x in status.read_text().splitlines() if x.startswith("Uid:"))
        except (OSError, StopIteration):
            continue
        if str(uid) in line.split()[1:]:
            found.append(int(status.parent.name))
    return found


def _locked(lock_file: Path) -> bool:
    fd = os.open(lock_file, os.O_RDWR | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def test_a_jail_outliving_its_killed_worker_keeps_its_uid(lease_dir, stack_env, monkeypatch):
    """A worker killed mid-run (time limit, OOM) leaves nsjail running (its own session):
    its uid goes to no other jail until the orphan has ended, and the jail never sees the lease."""
    monkeypatch.setattr(uids, "LEASE_WAIT_SECONDS", 0.5)
    token = uuid.uuid4().hex
    worker = subprocess.Popen([sys.executable, "-c", RUN_ORPHAN, str(lease_dir), ORPHAN.replace("TOKEN", token)],
                              cwd=Path(__file__).parents[2])
    runs_dir = Path(stack_env["SANDBOX_RUNS_DIR"])
    try:
        wait_until(lambda: list(runs_dir.glob(f"*/fds-{token}")), 30, what="the jail starting")
        fds = next(runs_dir.glob(f"*/fds-{token}")).read_text()
        worker.kill()
        worker.wait()
        assert _pids_running_as(ORPHAN_UID), "the jail died with its worker"
        assert ".lock" not in fds, fds  # the jail cannot reach (or unlock) the lease
        assert _locked(lease_dir / f"{ORPHAN_UID}.lock")  # nsjail holds the lease
        with pytest.raises(UidPoolError, match="all 1 jail uids are in use"), \
                UidPool(UidRange(ORPHAN_UID, 1), lease_dir).lease():
            pass
    finally:
        worker.kill()
        worker.wait()
        for pid in _pids_running_as(ORPHAN_UID):
            os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not _locked(lease_dir / f"{ORPHAN_UID}.lock"), 30, what="nsjail ending with its jail")
    runner = orphan_runner(str(lease_dir))  # sweeps the dead worker's work dir and cgroup
    with runner.uids.lease() as ids:
        assert ids.uid == ORPHAN_UID
    remove_test_parent(runner.cgroups)


def test_a_uid_left_marked_by_a_dead_holder_is_not_leased_while_a_process_runs_as_it(lease_dir, monkeypatch):
    """Defence in depth: whatever still runs as a uid whose holder died keeps it from new jails."""
    monkeypatch.setattr(uids, "LEASE_WAIT_SECONDS", 0.3)
    pool = UidPool(UidRange(82010, 1), lease_dir)
    pool.prepare()
    (lease_dir / "82010.lock").write_bytes(uids.HELD_MARK)  # its holder died without returning it
    straggler = subprocess.Popen(["/bin/sleep", "60"], user=82010, group=82010, cwd="/")
    try:
        with pytest.raises(UidPoolError, match="all 1 jail uids are in use"), pool.lease():
            pass
    finally:
        straggler.kill()
        straggler.wait()
    with pool.lease() as ids:
        assert ids.uid == 82010
    assert (lease_dir / "82010.lock").read_bytes() == b""  # returned in order: the next lease need not look
