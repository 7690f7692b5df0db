"""What the kernel counts per user cannot be used up by one run for another run or for the host.

For each resource a run through the worker takes all it can (tests/kernel_limits_program.py,
`hog`) and holds it; meanwhile a second run through the worker, root on the host and a host
process of the `nobody` user each take one unit (`probe`), and all must get it."""
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
from sandbox_support import submit, wait_final

from sandbox import uids
from sandbox.settings import SandboxSettings
from sandbox.uids import UidPool, UidPoolError, UidRange

PROGRAM = (Path(__file__).parent / "kernel_limits_program.py").read_text()
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
    deadline = time.monotonic() + seconds
    while True:
        for work in runs_dir.iterdir():
            if (work / f"ready-{token}").exists():
                return work
        body = client.get(f"/codestudio/executions/{hog_id}", headers=user["headers"]).get_json()
        assert body["status"] in ("queued", "running"), f"the hog ended before it was ready: {body}"
        assert time.monotonic() < deadline, "the hog never got ready"
        time.sleep(0.05)


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
    uid_range = UidRange(SandboxSettings.uid_first + 990, 2)
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
    uid_range = UidRange(SandboxSettings.uid_first + 995, 1)
    pool = UidPool(uid_range, lease_dir)
    pool.prepare()
    with pool.lease():
        child = os.fork()
        if child == 0:
            time.sleep(30)
            os._exit(0)
    try:
        other, uid = _lease_elsewhere(uid_range, lease_dir)  # the parent returned it; the child lives on
        other.communicate("")
        assert uid == uid_range.first
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)


@pytest.mark.parametrize("first, count", [(0, 10), (1, 10), (65530, 10), (2**32 - 2, 5), (70000, 0)])
def test_a_uid_range_with_root_host_accounts_or_no_ids_is_refused(first, count):
    with pytest.raises(UidPoolError):
        UidRange(first, count).check()
