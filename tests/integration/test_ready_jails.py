"""Run jails started ahead of need (sandbox/ready_jails.py), with real nsjail and cgroups: a run
handed to one is exactly a fresh run, its limits count from the hand-off, and each jail serves
one run."""
from __future__ import annotations

import dataclasses
import hashlib
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sandbox import Runner, RunSpec, ready_jails, registry
from sandbox.settings import SandboxSettings
from tests.integration.test_prewarm import OffThread
from tests.support.polling import wait_until
from tests.support.sandbox_suite import remove_test_parent

pytestmark = pytest.mark.sandbox  # the database and Redis behind it do not matter: one CI pass

PORTRAIT = """\
import os, resource, sys
limits = {n: resource.getrlimit(getattr(resource, n)) for n in dir(resource) if n.startswith("RLIMIT_")}
print(os.getpid(), os.getppid(), os.getuid() == os.geteuid() > 0, os.getcwd(), sorted(os.listdir(".")))
print(sys.argv[1:], repr(sys.stdin.buffer.read()), os.sched_getscheduler(0), os.nice(0), os.umask(0o22))
print(sorted(os.environ.items()), sorted(limits.items()), sorted(os.listdir("/tmp")))
print(sorted(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else "no /proc")
"""

FORKS = """\
import os, time
n = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(3)
            os._exit(0)
        n += 1
except OSError as e:
    print("refused after", n, e.errno)
"""


def runner_for(stack_env, suffix: str, **settings) -> Runner:
    base = SandboxSettings.from_env()
    return Runner(dataclasses.replace(base, cgroup_parent=f"{stack_env['SANDBOX_CGROUP_PARENT']}-{suffix}",
                                      **settings))


@pytest.fixture
def ready_runner(stack_env):
    runner = runner_for(stack_env, "ready")
    assert runner.ready.enabled, "jail-exec is built by `make toolchains` (scripts/install-toolchains)"
    with ThreadPoolExecutor(1) as pool:
        runner.prepare()
        yield OffThread(runner, pool)
        runner.close()
    mine = f"{os.getpid()}-"
    assert not [n for n in os.listdir(runner.settings.runs_dir) if n.startswith(mine) and ".ready-" in n]
    remove_test_parent(runner.cgroups)  # fails if a jail's cgroup were left with a process in it


def python(code: str, **fields) -> RunSpec:
    fields.setdefault("timeout", 5)
    fields.setdefault("memory_mb", 256)
    return RunSpec(language=registry().get("python"), code=code, **fields)


def _waits_for_its_command(jail) -> bool:
    """jail-exec blocks in read(0, ...) once the jail is up (sandbox/helpers/jail-exec.c)."""
    for tid in jail.cgroup.thread_ids():
        try:
            if Path(f"/proc/{tid}/syscall").read_text().startswith("0 0x0 "):
                return True
        except OSError:
            pass
    return False


def ready_jail(runner, language: str = "python"):
    jail = wait_until(lambda: runner.ready.idle(language), 20, what=f"a ready {language} jail")
    wait_until(lambda: _waits_for_its_command(jail), 20, interval=0.02, what="jail-exec waiting for its command")
    return jail


def used_once(jail) -> None:
    """The jail ran its one run and is destroyed (by the keeper, just after the run's result)."""
    assert jail.proc.poll() is not None
    wait_until(lambda: not jail.work.path.exists(), 5, what="the used jail's work dir removed")


def test_a_run_in_a_ready_jail_is_exactly_a_fresh_run(stack_env, ready_runner):
    spec = python(PORTRAIT, stdin=b"line\x00\xff\n", args=("a b", "c\nd", ""))
    fresh_runner = runner_for(stack_env, "fresh", ready_jails=False)
    with ThreadPoolExecutor(1) as pool:
        fresh_runner.prepare()
        fresh = OffThread(fresh_runner, pool).run(spec)
    fresh_runner.close()
    remove_test_parent(fresh_runner.cgroups)
    ready_runner.run(python("print(1)"))  # the kind's first run starts fresh; the next one is ready
    jail = ready_jail(ready_runner)
    ready = ready_runner.run(spec)
    used_once(jail)
    assert (ready.status, fresh.status) == ("success", "success"), (ready, fresh)
    assert ready.stdout == fresh.stdout, (ready.stdout, fresh.stdout)
    assert "['main.py']" in ready.stdout and ready_jails.EXEC_NAME not in ready.stdout


def test_time_limits_count_from_the_hand_off(ready_runner):
    ready_runner.run(python("print(1)", timeout=2))
    jail = ready_jail(ready_runner)
    time.sleep(2.5)  # longer than the run's own wall limit: idling is not the program's time
    slept = ready_runner.run(python("import time\ntime.sleep(1)\nprint('woke')", timeout=2))
    assert jail.proc.poll() is not None
    assert (slept.status, slept.stdout) == ("success", "woke\n") and 1 <= slept.wall_time < 1.8, slept
    assert slept.cpu_time < 0.5, slept  # the program's CPU only: not nsjail's start, not the wait
    ready_jail(ready_runner)
    spun = ready_runner.run(python("while True: pass", timeout=2))
    # killed at its own limit from the hand-off; its CPU is what it spun (a loaded machine gives it less)
    assert spun.status == "timeout" and 2 <= spun.wall_time < 2.5 and 0.3 < spun.cpu_time <= spun.wall_time, spun


def test_memory_pids_and_output_limits_hold(ready_runner):
    ready_runner.run(python("print(1)", memory_mb=64))
    ready_jail(ready_runner)
    hog = ready_runner.run(python("x = bytearray(200 * 1024 * 1024)\nprint(len(x))", memory_mb=64))
    assert hog.status == "memory_limit", hog
    ready_jail(ready_runner)
    forks = ready_runner.run(python(FORKS, memory_mb=64))
    assert forks.status == "success" and "refused after" in forks.stdout, forks
    ready_jail(ready_runner)
    loud = ready_runner.run(python("import sys\nwhile True: sys.stdout.write('x' * 65536)", memory_mb=64))
    assert loud.status == "output_limit" and loud.truncated["stdout"], loud.status


def test_stdin_reaches_the_program_whole(ready_runner):
    payload = os.urandom(3 << 20)
    ready_runner.run(python("print(1)"))
    ready_jail(ready_runner)
    digest = ready_runner.run(python("import hashlib, sys\nprint(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())",
                                     stdin=payload))
    assert digest.stdout.strip() == hashlib.sha256(payload).hexdigest(), digest


def test_a_file_named_like_the_helper_is_the_users(ready_runner):
    ready_runner.run(python("print(1)"))
    ready_jail(ready_runner)
    spec = dataclasses.replace(python("import os\nprint(sorted(os.listdir('.')), open('.jail-exec').read())"),
                               files=((ready_jails.EXEC_NAME, b"mine"),))
    result = ready_runner.run(spec)
    assert (result.status, result.stdout) == ("success", "['.jail-exec', 'main.py'] mine\n"), result


def test_a_ready_jail_that_died_is_never_handed_a_run(ready_runner):
    ready_runner.run(python("print(1)"))
    jail = ready_jail(ready_runner)
    os.killpg(jail.proc.pid, signal.SIGKILL)
    jail.proc.wait()
    result = ready_runner.run(python("print('fresh')"))
    assert (result.status, result.stdout) == ("success", "fresh\n"), result


def test_kinds_are_bounded_and_idle_ones_expire(ready_runner, monkeypatch):
    for timeout in range(2, 4 + ready_jails.MAX_KINDS):
        ready_runner.run(python("print(1)", timeout=timeout))
    wait_until(lambda: ready_runner.ready.count() == ready_jails.MAX_KINDS, 20, what="one jail per recent kind")
    works = [Path(j.work.path) for j in list(ready_runner.ready._idle.values()) if j is not None]
    monkeypatch.setattr(ready_jails, "IDLE_SECONDS", 0.0)
    assert ready_runner.ready.expire() == ready_jails.MAX_KINDS and ready_runner.ready.count() == 0
    assert not any(path.exists() for path in works)


def test_without_jail_exec_every_run_starts_fresh(stack_env):
    runner = runner_for(stack_env, "noexec", jail_exec="/nonexistent/jail-exec")
    assert not runner.ready.enabled
    with ThreadPoolExecutor(1) as pool:
        runner.prepare()
        off = OffThread(runner, pool)
        assert [off.run(python("print(2)")).stdout for _ in range(2)] == ["2\n", "2\n"]
        assert runner.ready.count() == 0
    runner.close()
    remove_test_parent(runner.cgroups)


def test_a_forked_process_starts_without_its_parents_jails(ready_runner):
    """A pool process forked from a process that keeps ready jails neither takes nor closes
    them: they are its parent's (their nsjail is the parent's child)."""
    ready_runner.run(python("print(1)"))
    parents = ready_jail(ready_runner)
    runner = ready_runner.runner
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        try:
            seen = runner.ready.count()
            result = runner.run(python("print('child')"))
            runner.close()
            os.write(write_end, f"{seen} {result.status} {result.stdout.strip()}".encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as report:
        answer = report.read()
    os.waitpid(child, 0)
    assert answer == "0 success child", answer
    assert parents.alive() and ready_runner.ready.idle("python") is parents
    assert ready_runner.run(python("print('parent')")).stdout == "parent\n"
    used_once(parents)
