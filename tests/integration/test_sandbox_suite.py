"""The adversarial list of ../shared/notes/sandbox.md §D, cases 1–43, as tests through the real
worker path (API -> Celery worker -> nsjail), each with its expected outcome; test names (or
ids) carry the §D number. A case that is one program and its outcome is a data case in
sandbox_cases/ (test_sandbox_cases.py). Here: the Python cases that need more (host canaries,
cgroup samples, the worker itself, the API's stdin cap); C, JVM and node cases sharing one probe
run, and compiler includes, in test_sandbox_suite_native.py; the worker and host around the jail
(kill, sweep, request options, concurrency, socket buffers) in test_sandbox_suite_host.py;
symlink canaries in test_sandbox_suite_canaries.py."""
import time
from pathlib import Path

import pytest

from sandbox import registry
from sandbox.cgroups import NSJAIL_PIDS
from tests.support.languages import installed
from tests.support.polling import wait_until
from tests.support.sandbox_suite import (  # noqa: F401 (a fixture)
    canaries_fixture,
    parent_dir,
    run_cgroups,
    started_ahead,
    submit,
    wait_final,
)

pytestmark = pytest.mark.sandbox  # the database and Redis behind it do not matter: one CI pass

ROOT = Path(__file__).resolve().parents[2]
LIMITS = {"timeout": 2, "memory_mb": 128}


def test_d07_bash_fork_bomb_hits_the_pids_cap_and_leaves_nothing(client, user, worker, stack_env):
    bash = registry().get(installed("bash"))
    pids = parent_dir(stack_env, "pids")
    runs_dir = Path(stack_env["SANDBOX_RUNS_DIR"])
    before = set(run_cgroups(pids))
    execution = submit(client, user, "bash", ":(){ :|:& };:\nsleep 3\n", limits={"timeout": 2, "memory_mb": 256})
    body, samples = wait_final(client, user, execution, lambda: run_cgroups(pids, runs_dir))
    assert body["status"] == "timeout", body
    assert body["message"] == "killed: wall-clock time limit exceeded (the process limit was reached too)"
    ours = {name for sample in samples for name in sample} - before
    peak = max(sample[name] for sample in samples for name in ours & set(sample))
    assert 0 < peak <= bash.pids + NSJAIL_PIDS  # the run's cap held (nsjail itself counts on v1)
    # nothing left behind (a jail started ahead of need is closed just after its run's result)
    wait_until(lambda: not any((pids / name).exists() for name in ours), 5, what="the run's cgroups removed")


def test_d12_host_files_do_not_exist_in_the_jail(run, canaries, stack_env):
    hidden = ["/etc/shadow", "/root", "/home", "/proc", "/sys", str(canaries.secret), str(ROOT),
              stack_env["SANDBOX_RUNS_DIR"], "/work/../../etc/shadow"]
    code = f"import errno, os\nfor p in {hidden!r}:\n    try:\n        os.stat(p)\n        print(p, 'EXISTS')\n" \
           "    except OSError as e:\n        print(p, errno.errorcode[e.errno])\n"
    body = run(code=code)
    assert body["stdout"] == "".join(f"{p} ENOENT\n" for p in hidden), body


def test_d14_symlink_to_a_host_file_is_dangling_inside_and_never_followed_outside(run, canaries):
    code = (f"import errno, os\nos.symlink({str(canaries.secret)!r}, '/work/out.txt')\nfor mode in 'ra':\n"
            "    try:\n        open('/work/out.txt', mode)\n    except OSError as e:\n"
            "        print(mode, errno.errorcode[e.errno])\n")
    body = run(code=code)
    assert body["stdout"] == "r ENOENT\na ENOENT\n", body


def test_d22_kill_minus_one_stays_in_the_jail_and_the_worker_survives(run, worker):
    code = ("import os, signal, time\nchild = os.fork()\nif child == 0:\n    time.sleep(30)\n    os._exit(0)\n"
            "os.kill(-1, signal.SIGKILL)\n_, status = os.waitpid(child, 0)\n"
            "print('child', signal.Signals(os.WTERMSIG(status)).name, 'and I survive')\n")
    body = run(code=code)
    assert (body["status"], body["stdout"]) == ("success", "child SIGKILL and I survive\n"), body
    assert worker["proc"].poll() is None and run(code="print('next')")["stdout"] == "next\n"


def _work_mounts(runs_dir: str) -> dict[str, list[str]]:
    """Mount point -> mount options of the run dirs mounted on the host right now (not the work
    dirs of jails the workers keep started ahead of need, unused: those outlive any one run)."""
    lines = [line.split() for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    return {fields[4]: fields[5].split(",") for fields in lines
            if fields[4].startswith(runs_dir + "/") and not started_ahead(Path(fields[4]))}


def test_d40_setuid_file_in_work_is_on_a_nosuid_mount_and_cleaned_up(client, user, worker, stack_env):
    code = ("import os, shutil, stat, time\nshutil.copy('/usr/bin/id', '/work/suid')\nos.chmod('/work/suid', 0o6755)\n"
            "print(oct(stat.S_IMODE(os.stat('/work/suid').st_mode)), bool(os.statvfs('/work').f_flag & os.ST_NOSUID))\n"
            "time.sleep(1.5)\n")
    execution = submit(client, user, "python", code, limits=LIMITS)
    body, mounts = wait_final(client, user, execution, lambda: _work_mounts(stack_env["SANDBOX_RUNS_DIR"]))
    assert (body["status"], body["stdout"]) == ("success", "0o6755 True\n"), body
    seen = [options for found in mounts for options in found.values()]
    assert seen and all({"nosuid", "nodev"} <= set(options) for options in seen), seen  # the host side too
    wait_until(lambda: not any(Path(point).exists() for found in mounts for point in found), 5,
               what="the run's work dir unmounted and removed")


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
    response = client.post("/codestudio/run", headers=user["headers"],
                           json={"language": "python", "code": "pass", "stdin": "x" * (stdin_cap + 1)})
    assert response.status_code == 413 and response.get_json()["code"] == "stdin_too_large"
