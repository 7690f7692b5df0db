"""The adversarial list of ../shared/notes/sandbox.md §D, cases 1–43, as tests through the real
worker path (API -> Celery worker -> nsjail), each with its expected outcome; test names (or
ids) carry the §D number. Python cases here; C, JVM, node and Haskell cases in
test_sandbox_suite_native.py; the worker and host around the jail (kill, sweep, request
options, concurrency, socket buffers) in test_sandbox_suite_host.py; symlink canaries in
test_sandbox_suite_canaries.py."""
import json
import time
from pathlib import Path

import pytest
from tests.support.sandbox_suite import (  # noqa: F401 (a fixture)
    canaries_fixture,
    parent_dir,
    run_cgroups,
    submit,
    wait_final,
)
from tests.integration.test_languages import installed

from sandbox import registry
from sandbox.cgroups import NSJAIL_PIDS
from sandbox.jail import JAIL_ENV, TMP_INODES
from sandbox.settings import SandboxSettings
from sandbox.workdir import WORK_INODES

ROOT = Path(__file__).resolve().parents[2]
DEFAULTS = SandboxSettings(nsjail="", tini="", runs_dir=Path("."))  # what the test worker runs with
PYTHON = registry().get("python")
LIMITS = {"timeout": 2, "memory_mb": 128}

# libc calls from Python: the errno name on failure; syscall arguments as C longs
CALL = """import ctypes, errno, socket
libc = ctypes.CDLL(None, use_errno=True)
def call(name, *args):
    rc = getattr(libc, name)(*args)
    return errno.errorcode[ctypes.get_errno()] if rc == -1 else "OK"
def sys(nr, *args):
    return call("syscall", ctypes.c_long(nr), *(a if a is None or isinstance(a, bytes) else ctypes.c_long(a) for a in args))
def sock(*args):
    try:
        socket.socket(*args).close()
        return "OK"
    except OSError as e:
        return errno.errorcode[e.errno]
"""

SIMPLE = [  # (§D id, program, its exact stdout)
    ("d01_hello", "print('hello')", "hello\n"),
    ("d11_no_network", """import errno, socket
print([n for _, n in socket.if_nameindex()])
for host, port in [("127.0.0.1", 22), ("8.8.8.8", 53), ("169.254.169.254", 80), ("::1", 22)]:
    try:
        socket.create_connection((host, port), timeout=2)
        print(host, "CONNECTED")
    except OSError as e:
        print(host, errno.errorcode[e.errno])
try:
    print(socket.getaddrinfo("pypi.org", 443))
except socket.gaierror as e:
    print("dns", e.errno == socket.EAI_AGAIN)
""", "['lo']\n127.0.0.1 ECONNREFUSED\n8.8.8.8 ENETUNREACH\n169.254.169.254 ENETUNREACH\n::1 ECONNREFUSED\ndns True\n"),
    ("d13_read_only_outside_work_and_tmp", """import errno
for p in ['/usr/x', '/etc/x', '/x', '/bin/x', '/lib/x', '/dev/x']:
    try:
        open(p, 'w')
    except OSError as e:
        print(p, errno.errorcode[e.errno])
for p in ['/work/ok', '/tmp/ok']:
    open(p, 'w').write('1')
print('writable: /work /tmp')
""", "".join(f"{p} EROFS\n" for p in ["/usr/x", "/etc/x", "/x", "/bin/x", "/lib/x", "/dev/x"]) + "writable: /work /tmp\n"),
    ("d15_hard_link_across_mounts", """import errno, os
try:
    os.link('/usr/bin/python3', '/work/py')
except OSError as e:
    print(errno.errorcode[e.errno])
""", "EXDEV\n"),
    ("d16_tmp_fills_up", """import errno
total = 0
try:
    for i in range(100):
        with open(f"/tmp/f{i}", "wb") as fh:
            for _ in range(4):
                total += fh.write(b"x" * (1 << 20))
except OSError as e:
    print(errno.errorcode[e.errno], total)
""", f"ENOSPC {DEFAULTS.tmp_mb << 20}\n"),
    ("d17_file_size_limit", """import errno
total = 0
try:
    with open("/work/big", "wb", buffering=0) as fh:
        while True:
            total += fh.write(b"x" * (1 << 20))
except OSError as e:
    print(errno.errorcode[e.errno], total)
""", f"EFBIG {DEFAULTS.file_size_mb << 20}\n"),
    ("d18_no_namespaces", CALL + """
print("unshare user", call("unshare", 0x10000000))
print("unshare net", call("unshare", 0x40000000))
print("clone user", sys(56, 0x10000000 | 17, 0, 0, 0, 0))
print("setns", call("setns", 0, 0))
""", "unshare user EPERM\nunshare net EPERM\nclone user EPERM\nsetns EPERM\n"),
    ("d19_no_ptrace", CALL + """
print("traceme", call("ptrace", 0, 0, 0, 0))
print("attach pid 1", sys(101, 16, 1, 0, 0))
print("process_vm_readv", sys(310, 1, 0, 0, 0, 0, 0))
""", "traceme EPERM\nattach pid 1 EPERM\nprocess_vm_readv EPERM\n"),
    ("d23_the_program_is_not_pid_1", "import os; print(os.getpid(), os.getppid())", "2 1\n"),
    ("d24_init_reaps_orphans", """import subprocess
for i in range(120):
    subprocess.run(["/bin/sh", "-c", "sleep 0 &"], check=True)
print(i + 1, "spawned")
""", "120 spawned\n"),
    ("d33_seccomp_socket_families_io_uring_keyrings_mounts", CALL + """
c = ctypes.c_char(b"x")
for name, family, kind, proto in [("unix", 1, 1, 0), ("inet", 2, 1, 0), ("inet6", 10, 2, 0), ("netlink route", 16, 3, 0),
                                  ("netlink audit", 16, 3, 9), ("packet", 17, 3, 0), ("alg", 38, 5, 0),
                                  ("bluetooth", 31, 1, 0), ("vsock", 40, 1, 0), ("xdp", 44, 3, 0)]:
    print(name, sock(family, kind, proto))
print("vsock, high bits set", sys(41, 0x100000028, 1, 0))
print("io_uring_setup", sys(425, 8, None))
for name, nr in [("bpf", 321), ("keyctl", 250), ("add_key", 248), ("request_key", 249), ("fsopen", 430),
                 ("open_tree", 428), ("move_mount", 429), ("pivot_root", 155), ("perf_event_open", 298)]:
    print(name, sys(nr, 0, 0, 0, 0, 0))
print("mount", call("mount", b"none", b"/tmp", b"tmpfs", 0, None))
print("umount2", call("umount2", b"/tmp", 0))
print("TIOCSTI", sys(16, 1, 0x5412, ctypes.addressof(c)), sys(16, 1, 0x100005412, ctypes.addressof(c)))
""", "unix OK\ninet OK\ninet6 OK\nnetlink route OK\nnetlink audit EPERM\npacket EPERM\nalg EPERM\nbluetooth EPERM\n"
     "vsock EPERM\nxdp EPERM\nvsock, high bits set EPERM\nio_uring_setup ENOSYS\n"
     + "".join(f"{n} EPERM\n" for n in ["bpf", "keyctl", "add_key", "request_key", "fsopen", "open_tree", "move_mount",
                                         "pivot_root", "perf_event_open", "mount", "umount2"]) + "TIOCSTI EPERM EPERM\n"),
    ("d39_inode_exhaustion", """import errno
for d in ("/tmp", "/work"):
    n = 0
    try:
        while True:
            open(f"{d}/i{n}", "w").close()
            n += 1
    except OSError as e:
        print(d, errno.errorcode[e.errno], n)
""", f"/tmp ENOSPC {TMP_INODES - 1}\n/work ENOSPC {WORK_INODES - 2}\n"),  # less the root dir (and main.py)
]


@pytest.mark.parametrize("code, expected", [case[1:] for case in SIMPLE], ids=[case[0] for case in SIMPLE])
def test_python_case_prints_exactly(run, code, expected):
    body = run(code=code, limits={"timeout": 5, "memory_mb": 256})
    assert (body["status"], body["stdout"]) == ("success", expected), body


def test_d02_infinite_loop_is_timeout(run):
    start = time.monotonic()
    body = run(code="while True: pass", limits=LIMITS)
    assert body["status"] == "timeout", body
    assert 1.9 < body["execution_time"] < 3.5 and time.monotonic() - start < 8
    assert body["cpu_time"] > 1.0  # a killed run is still accounted (and billed) for its CPU (some of 2 s: a busy CI host)


def test_d03_four_spinning_processes_get_one_cpu(run):
    body = run(code="import os\nfor _ in range(3):\n    if os.fork() == 0:\n        break\nwhile True: pass\n",
               limits=LIMITS)
    assert body["status"] == "timeout", body
    assert 1.0 < body["cpu_time"] <= body["execution_time"] * 1.0 + 0.3, body  # quota: 1 CPU, not 2 cores


def test_d04_sleep_is_wall_clock_timeout(run):
    body = run(code="import time; time.sleep(10**6)", limits={"timeout": 1.5, "memory_mb": 128})
    assert (body["status"], body["message"]) == ("timeout", "killed: wall-clock time limit exceeded"), body
    assert 1.4 < body["execution_time"] < 3 and body["cpu_time"] < 0.5


@pytest.mark.parametrize("code", ["a = []\nwhile True:\n    a.append(bytearray(10 << 20))",
                                  "x = b'x' * (2 << 30)\nprint(len(x))"], ids=["d05_growing", "d05_one_2gb_block"])
def test_d05_memory_hog_is_memory_limit(run, code):
    body = run(code=code, limits=LIMITS)
    assert (body["status"], body["signal"]) == ("memory_limit", "SIGKILL"), body
    assert body["memory_kb"] >= 0.9 * LIMITS["memory_mb"] * 1024


def test_d06_exit_137_is_error_not_memory_limit(run):
    body = run(code="import sys; sys.exit(137)")
    assert (body["status"], body["returncode"], body["signal"]) == ("error", 137, None), body
    assert body["message"] == "exit status 137: the status of a process killed by SIGKILL"


def test_d07_bash_fork_bomb_hits_the_pids_cap_and_leaves_nothing(client, user, worker, stack_env):
    bash = registry().get(installed("bash"))
    pids = parent_dir(stack_env, "pids")
    before = set(run_cgroups(pids))
    execution = submit(client, user, "bash", ":(){ :|:& };:\nsleep 3\n", limits={"timeout": 2, "memory_mb": 256})
    body, samples = wait_final(client, user, execution, lambda: run_cgroups(pids))
    assert body["status"] == "timeout", body
    assert body["message"] == "killed: wall-clock time limit exceeded (the process limit was reached too)"
    ours = {name for sample in samples for name in sample} - before
    peak = max(sample[name] for sample in samples for name in ours & set(sample))
    assert 0 < peak <= bash.pids + NSJAIL_PIDS  # the run's cap held (nsjail itself counts on v1)
    assert not any((pids / name).exists() for name in ours)  # nothing left behind


def test_d08_fork_loop_stops_at_the_pids_limit_and_the_worker_serves_the_next_run(run):
    code = ("import errno, os, time\nn = 0\nwhile True:\n    try:\n        pid = os.fork()\n    except OSError as e:\n"
            "        print('fork failed after', n, errno.errorcode[e.errno])\n        break\n    if pid == 0:\n"
            "        time.sleep(100)\n        os._exit(0)\n    n += 1\n")
    body = run(code=code, limits=LIMITS)
    # the cap counts tini and the program itself
    assert (body["status"], body["stdout"]) == ("success", f"fork failed after {PYTHON.pids - 2} EAGAIN\n"), body
    assert run(code="print('still serving')")["stdout"] == "still serving\n"


@pytest.mark.parametrize("stream", ["stdout", "stderr"], ids=["d09_stdout", "d10_stderr"])
def test_d09_d10_output_flood_is_output_limit_with_the_cap_kept_quickly(run, stream):
    body = run(code=f"import sys\nchunk = 'A' * 65536\nfor _ in range(1600):\n    sys.{stream}.write(chunk)\n")
    assert body["status"] == "output_limit", {k: body[k] for k in ("status", "message", "execution_time")}
    assert len(body[stream]) == DEFAULTS.output_limit_bytes and body["truncated"][stream] is True
    assert body["execution_time"] < 3


def test_d12_host_files_do_not_exist_in_the_jail(run, canaries, stack_env):
    hidden = ["/etc/shadow", "/root", "/home", "/proc", "/sys", str(canaries.secret), str(ROOT),
              stack_env["SANDBOX_RUNS_DIR"], "/work/../../etc/shadow"]
    code = f"import errno, os\nfor p in {hidden!r}:\n    try:\n        os.stat(p)\n        print(p, 'EXISTS')\n" \
           "    except OSError as e:\n        print(p, errno.errorcode[e.errno])\n"
    body = run(code=code)
    assert body["stdout"] == "".join(f"{p} ENOENT\n" for p in hidden), body


def test_d14_symlink_to_a_host_file_is_dangling_inside_and_never_followed_outside(run, canaries):
    code = (f"import errno, os\nos.symlink({str(canaries.secret)!r}, '/work/out.txt')\nfor mode in 'ra':\n    try:\n"
            "        open('/work/out.txt', mode)\n    except OSError as e:\n        print(mode, errno.errorcode[e.errno])\n")
    body = run(code=code)
    assert body["stdout"] == "r ENOENT\na ENOENT\n", body


def test_d21_environment_is_exactly_the_jails(run):
    body = run(code="import json, os; print(json.dumps(dict(os.environ), sort_keys=True))")
    assert json.loads(body["stdout"]) == {**JAIL_ENV, **PYTHON.env}  # nothing of the worker's own environment


def test_d22_kill_minus_one_stays_in_the_jail_and_the_worker_survives(run, worker):
    code = ("import os, signal, time\nchild = os.fork()\nif child == 0:\n    time.sleep(30)\n    os._exit(0)\n"
            "os.kill(-1, signal.SIGKILL)\n_, status = os.waitpid(child, 0)\n"
            "print('child', signal.Signals(os.WTERMSIG(status)).name, 'and I survive')\n")
    body = run(code=code)
    assert (body["status"], body["stdout"]) == ("success", "child SIGKILL and I survive\n"), body
    assert worker["proc"].poll() is None and run(code="print('next')")["stdout"] == "next\n"


@pytest.mark.parametrize("code, status, name", [("import os; os.abort()", 134, "SIGABRT"),
                                                ("import ctypes; ctypes.string_at(0)", 139, "SIGSEGV")],
                         ids=["d25_abort", "d25_segfault"])
def test_d25_signal_deaths_are_reported_by_tini_as_128_plus_n(run, code, status, name):
    body = run(code=code)
    assert (body["status"], body["returncode"], body["signal"]) == ("error", status, None), body
    assert body["message"] == f"exit status {status}: the status of a process killed by {name}"


def _work_mounts(runs_dir: str) -> dict[str, list[str]]:
    """Mount point -> mount options of the run dirs mounted on the host right now (not the work
    dirs of compile jails the workers keep warm for JVM languages: those outlive any one run)."""
    lines = [line.split() for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    return {fields[4]: fields[5].split(",") for fields in lines
            if fields[4].startswith(runs_dir + "/") and ".warm-" not in fields[4]}


def test_d40_setuid_file_in_work_is_on_a_nosuid_mount_and_cleaned_up(client, user, worker, stack_env):
    code = ("import os, shutil, stat, time\nshutil.copy('/usr/bin/id', '/work/suid')\nos.chmod('/work/suid', 0o6755)\n"
            "print(oct(stat.S_IMODE(os.stat('/work/suid').st_mode)), bool(os.statvfs('/work').f_flag & os.ST_NOSUID))\n"
            "time.sleep(1.5)\n")
    execution = submit(client, user, "python", code, limits=LIMITS)
    body, mounts = wait_final(client, user, execution, lambda: _work_mounts(stack_env["SANDBOX_RUNS_DIR"]))
    assert (body["status"], body["stdout"]) == ("success", "0o6755 True\n"), body
    seen = [options for found in mounts for options in found.values()]
    assert seen and all({"nosuid", "nodev"} <= set(options) for options in seen), seen  # the host side too
    assert not any(Path(point).exists() for found in mounts for point in found)  # unmounted and removed


@pytest.fixture(scope="module")
def stdin_cap(app):
    return app.config["MAX_STDIN_BYTES"]


@pytest.mark.parametrize("code, status, stdout", [
    ("import time; time.sleep(1000)", "timeout", ""),
    ("pass", "success", ""),
    ("import sys; print(len(sys.stdin.buffer.read()))", "success", "{cap}\n"),
], ids=["d43_never_reads_and_sleeps", "d43_exits_at_once", "d43_reads_it_all"])
def test_d43_stdin_at_the_api_cap_never_deadlocks(run, stdin_cap, code, status, stdout):
    start = time.monotonic()
    body = run(code=code, stdin="x" * stdin_cap, limits={"timeout": 1.5, "memory_mb": 128})
    assert (body["status"], body["stdout"]) == (status, stdout.format(cap=stdin_cap)), body
    assert time.monotonic() - start < 6


def test_d43_stdin_above_the_cap_is_refused(client, user, stdin_cap):
    response = client.post("/codestudio/run", json={"language": "python", "code": "pass", "stdin": "x" * (stdin_cap + 1)},
                           headers=user["headers"])
    assert response.status_code == 413 and response.get_json()["code"] == "stdin_too_large"
