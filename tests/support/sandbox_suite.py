"""Shared pieces of the numbered sandbox suite (tests/integration/test_sandbox_suite*.py): host-side
canary files, polling an execution, and reading the test worker's cgroups."""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from sandbox import cgroups, ready_jails
from sandbox.runner import _start_ticks
from tests.support.polling import get_json, wait_until

OTHER_UID = 4242  # a canary owned by neither root nor the jail user


@dataclass
class Canaries:
    """Root-owned files under a 0700 root dir on the host, with known content, owner and mode."""
    root: Path

    @property
    def secret(self) -> Path:
        return self.root / "secret"

    def state(self) -> dict[str, tuple]:
        found = {}
        for path in sorted([self.root, *self.root.rglob("*")]):
            st = os.lstat(path)
            content = path.read_bytes() if stat.S_ISREG(st.st_mode) else None
            found[str(path)] = (content, st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode), stat.S_IFMT(st.st_mode))
        return found


def _plant(root: Path) -> None:
    root.chmod(0o700)
    files = {"secret": (0, 0o600), "other": (OTHER_UID, 0o640), "dir/nested": (0, 0o600)}
    for name, (uid, mode) in files.items():
        path = root / name
        path.parent.mkdir(mode=0o700, exist_ok=True)
        path.write_bytes(f"canary {name} {os.urandom(8).hex()}\n".encode())
        os.chown(path, uid, uid)
        path.chmod(mode)


@pytest.fixture(name="canaries")
def canaries_fixture():
    """Yields the canaries and, afterwards, asserts none changed."""
    root = Path(tempfile.mkdtemp(prefix="cs-canary-"))
    _plant(root)
    found = Canaries(root)
    before = found.state()
    yield found
    try:
        assert found.state() == before, "a canary file changed"
    finally:
        shutil.rmtree(root)


def wait_final(client, user, execution_id: str, sample=None, seconds: float = 60) -> tuple[dict, list]:
    """Poll until the execution is final; `sample()` is called on each turn meanwhile and
    its results are returned with the final body."""
    deadline, samples, bodies = time.monotonic() + seconds, [], [None]

    def final() -> dict | None:
        if sample is not None:
            samples.append(sample())
        bodies[0] = get_json(client, f"/codestudio/executions/{execution_id}", user["headers"], deadline)
        return bodies[0] if bodies[0]["status"] not in ("queued", "running") else None

    return wait_until(final, seconds, interval=0.02, what=lambda: f"a final execution, not {bodies[0]}"), samples


def submit(client, user, language: str, code: str, **fields) -> str:
    """POST /codestudio/run without waiting; the execution id."""
    response = client.post("/codestudio/run", json={"language": language, "code": code, "wait": False, **fields},
                           headers=user["headers"])
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.get_json()["id"]


def parent_dir(stack_env, controller: str) -> Path:
    """The test worker's parent cgroup directory holding `controller`'s files."""
    layout = cgroups.detect(stack_env["SANDBOX_CGROUP_PARENT"])
    if layout.version == 2:
        return layout.mount / layout.parent
    return layout.mounts[controller] / layout.parent


def read_int(path: Path) -> int:
    text = path.read_text().strip()
    return -1 if text == "max" else int(text)


def started_ahead(run_dir: Path) -> bool:
    """Whether a run dir is a jail's started ahead of need that no run has used: a warm compile
    jail's (sandbox/prewarm.py), or a ready run jail's whose work dir holds nothing but, while it
    starts, jail-exec (sandbox/ready_jails.py)."""
    if ".warm-" in run_dir.name:
        return True
    try:
        return ".ready-" in run_dir.name and set(os.listdir(run_dir)) <= {".jail-exec"}
    except OSError:  # closed meanwhile
        return False


def run_cgroups(pids_parent: Path, runs_dir: Path | None = None) -> dict[str, int]:
    """pids.current of each run cgroup under the parent right now; given the runs dir, only
    those of jails in use (not started ahead of need and idle)."""
    found = {}
    for child in pids_parent.iterdir():
        if runs_dir is not None and started_ahead(runs_dir / child.name.removesuffix("-run")):
            continue
        if child.name.endswith("-run"):
            try:
                found[child.name] = read_int(child / "pids.current")
            except OSError:  # the run ended meanwhile
                pass
    return found


def processes_in_cgroups_named(fragment: str) -> list[int]:
    """Host pids whose cgroup path (any controller) contains `fragment`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if fragment in Path(f"/proc/{entry}/cgroup").read_text():
                    found.append(int(entry))
            except OSError:
                pass
    return found


@pytest.fixture(name="module_run", scope="module")
def module_run_fixture(app, client, worker):
    """Like conftest's `run`, for module-scoped fixtures (one run that several cases read)."""
    from app.services.apikeys import create_user

    with app.app_context():
        _, key = create_user(f"{uuid.uuid4().hex[:10]}@example.test", "pro")

    def _run(language: str, code: str, **fields) -> dict:
        response = client.post("/codestudio/run", json={"language": language, "code": code, **fields},
                               headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    return _run


def remove_test_parent(layout, seconds: float = 5) -> None:
    """Remove a test's own cgroup parent once what is left in it (the per-thread CPU accounting
    groups of threads that are exiting) is empty. Never kills: an exiting thread of this very
    process may still be listed for a moment, and killing it would kill the test run."""
    deadline = time.monotonic() + seconds
    for parent in {d.parent for d in layout.dirs("x")}:
        for child in (c for c in parent.iterdir() if c.is_dir()) if parent.is_dir() else ():
            tasks = child / "tasks"
            wait_until(lambda tasks=tasks: not (tasks.exists() and tasks.read_text().strip()),
                       max(0.0, deadline - time.monotonic()), interval=0.02, what=f"{child} still has tasks")
            child.rmdir()
    cgroups.remove_parent(layout)


def dead_owner_token() -> str:
    """'<pid>-<start ticks>' of a process that has exited: a dead worker's token."""
    proc = subprocess.Popen(["/bin/sleep", "60"])
    token = f"{proc.pid}-{_start_ticks(proc.pid)}"
    proc.kill()
    proc.wait()
    return token


def runs_a_jail(process) -> bool:
    """Whether a (psutil) worker pool process has a run's nsjail as a child right now: not one of
    the jails a worker keeps started ahead of need, which idle between runs (a compile jail kept
    warm for a JVM language; a ready run jail whose jail-exec still waits for its command)."""
    for child in process.children():
        argv = " ".join(child.cmdline())
        if "nsjail" in argv and ".warm-" not in argv and not _waits_for_a_run(child):
            return True
    return False


def _waits_for_a_run(nsjail) -> bool:
    try:
        return any(p.cmdline() == [f"/work/{ready_jails.EXEC_NAME}"] for p in nsjail.children(recursive=True))
    except psutil.Error:  # it ended meanwhile
        return False
