"""Compile jails started ahead of need (sandbox/prewarm.py), with real nsjail and cgroups."""
from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sandbox import CompileCap, Runner, RunSpec, registry
from sandbox.settings import SandboxSettings
from tests.support.languages import installed
from tests.support.polling import wait_until
from tests.support.sandbox_suite import remove_test_parent

pytestmark = pytest.mark.sandbox  # the database and Redis behind it do not matter: one CI pass

HELLO = 'public class Main { public static void main(String[] a) { System.out.println("hi " + a.length); } }'


class OffThread:
    """The runner's methods called on a worker thread, as a pool process would: the thread's CPU
    accounting group goes with it, so sweeping the test parent afterwards kills nothing of ours."""

    def __init__(self, runner: Runner, pool: ThreadPoolExecutor):
        self.runner, self.pool = runner, pool

    def __getattr__(self, name):
        attr = getattr(self.runner, name)
        return (lambda *a, **k: self.pool.submit(attr, *a, **k).result()) if callable(attr) else attr


@pytest.fixture
def warm_runner(stack_env):
    installed("java")
    settings = dataclasses.replace(SandboxSettings.from_env(),
                                   cgroup_parent=f"{stack_env['SANDBOX_CGROUP_PARENT']}-warm")
    runner = Runner(settings)
    with ThreadPoolExecutor(1) as pool:
        runner.prepare()
        yield OffThread(runner, pool)
        runner.close()
    mine = f"{os.getpid()}-"  # the test workers keep warm jails of their own in the same runs dir
    assert not [n for n in os.listdir(settings.runs_dir) if n.startswith(mine) and ".warm-" in n]  # all gone
    remove_test_parent(runner.cgroups)  # fails if a jail's cgroup were left with a process in it


def java(code: str = HELLO, **fields) -> RunSpec:
    return RunSpec(language=registry().get("java"), code=code, **fields)


def wait_ready(runner: Runner, seconds: float = 30, language: str = "java"):
    return wait_until(lambda: runner.warm.ready(language), seconds, what=f"a warm {language} compiler started")


def _reads_its_compile_command(jail) -> bool:
    """Whether the compiler has warmed up: a thread of its jail blocks in read(0, ...), waiting
    for the compile command on stdin (sandbox/helpers/WarmCompiler.java)."""
    for tid in jail.cgroup.thread_ids():
        try:
            if Path(f"/proc/{tid}/syscall").read_text().startswith("0 0x0 "):
                return True
        except OSError:  # a thread that ended meanwhile
            pass
    return False


def wait_warmed_up(jail, seconds: float = 60) -> None:
    """Until the jail's compiler has warmed up: only the compile itself is counted, from the hand-off."""
    wait_until(lambda: _reads_its_compile_command(jail), seconds, interval=0.1,
               what=f"the warm {jail.lang.id} compiler waiting for its compile")


def test_each_compile_after_the_first_takes_a_fresh_warm_jail(warm_runner):
    first = warm_runner.run(java(args=("x",)))
    assert (first.status, first.stdout) == ("success", "hi 1\n"), first
    jail = wait_ready(warm_runner)
    wait_warmed_up(jail)
    second = warm_runner.run(java(args=("x", "y")))
    assert (second.status, second.stdout) == ("success", "hi 2\n"), second
    assert jail.proc.poll() is not None and not jail.work.path.exists()  # used once, then destroyed
    assert 0 < second.compile_cpu_time < min(0.6, first.compile_cpu_time), (first, second)
    assert wait_ready(warm_runner) is not jail  # the next compile's jail is another one


@pytest.mark.slow
def test_kotlin_compiles_warm_too(warm_runner):
    installed("kotlin")
    kotlin = registry().get("kotlin")
    code = 'fun main(args: Array<String>) { println("kt " + args.size) }'
    first = warm_runner.run(RunSpec(language=kotlin, code=code))
    assert (first.status, first.stdout) == ("success", "kt 0\n"), first
    jail = wait_ready(warm_runner, language="kotlin")
    wait_warmed_up(jail)  # kotlinc's warm-up takes seconds of CPU; it is not the next user's
    second = warm_runner.run(RunSpec(language=kotlin, code=code, args=("a",)))
    assert (second.status, second.stdout) == ("success", "kt 1\n"), second
    assert jail.proc.poll() is not None and second.compile_cpu_time < first.compile_cpu_time / 2, (first, second)
    broken = warm_runner.run(RunSpec(language=kotlin, code="fun main() { val x: Int = \"no\" }"))
    assert broken.status == "compile_error" and "type mismatch" in broken.compile_output.lower(), broken


def test_a_warming_compiler_only_gets_idle_cpu_until_the_hand_off(warm_runner):
    warm_runner.run(java())
    jail = wait_ready(warm_runner)
    wait_until(lambda: len(jail.cgroup.thread_ids()) > 5, 30, interval=0.1,  # nsjail, tini and the JVM's threads
               what=lambda: f"the JVM up: {jail.cgroup.thread_ids()}")
    assert policies(jail) == {os.SCHED_IDLE}  # a run preempts it at once
    jail.cgroup.set_background(False)  # what the hand-off does
    assert policies(jail) == {os.SCHED_OTHER}


def policies(jail) -> set[int]:
    found = set()
    for tid in jail.cgroup.thread_ids():
        try:
            found.add(os.sched_getscheduler(tid))
        except ProcessLookupError:  # a thread that ended meanwhile
            pass
    return found


def test_a_warm_compile_reports_errors_and_compiles_every_file(warm_runner):
    warm_runner.run(java())
    wait_ready(warm_runner)
    broken = warm_runner.run(java("public class Main { int x = ; }"))
    assert broken.status == "compile_error" and "illegal start of expression" in broken.compile_output, broken
    wait_ready(warm_runner)
    two = warm_runner.run(java(
        'public class Main { public static void main(String[] a) { System.out.println(Util.twice(21)); } }',
        files=(("Util.java", b"public class Util { static int twice(int n) { return 2 * n; } }"),)))
    assert (two.status, two.stdout) == ("success", "42\n"), two


def test_batch_compiles_take_warm_jails_too(warm_runner):
    warm_runner.run(java())
    jail = wait_ready(warm_runner)
    program = warm_runner.compile(java())
    assert jail.proc.poll() is not None
    assert [f.name for f in program.files if f.name.endswith(".class")] == ["Main.class"]
    result = warm_runner.run_compiled(program, java(args=("a", "b", "c")))
    assert (result.status, result.stdout) == ("success", "hi 3\n"), result


@pytest.mark.parametrize("spoil", ["expired", "killed"])
def test_a_jail_past_its_idle_time_or_dead_is_not_used(warm_runner, spoil):
    warm_runner.run(java())
    jail = wait_ready(warm_runner)
    if spoil == "expired":
        jail.expires_at = 0
    else:
        os.killpg(jail.proc.pid, signal.SIGKILL)
        jail.proc.wait()
    result = warm_runner.run(java(args=("x",)))
    assert (result.status, result.stdout) == ("success", "hi 1\n"), result  # compiled cold instead
    assert not jail.work.path.exists()


def test_an_expired_or_dead_idle_jail_is_replaced_in_the_background(warm_runner):
    warm_runner.run(java())
    jail = wait_ready(warm_runner)
    assert warm_runner.warm.renew_stale() == 0  # still fresh: kept
    jail.expires_at = 0
    assert warm_runner.warm.renew_stale() == 1
    assert jail.proc.poll() is not None and not jail.work.path.exists()
    renewed = wait_ready(warm_runner)
    assert renewed is not jail
    result = warm_runner.run(java(args=("x",)))
    assert (result.status, result.stdout) == ("success", "hi 1\n"), result
    assert renewed.proc.poll() is not None  # the compile went to the renewed jail


def test_no_warm_jails_when_turned_off(stack_env):
    installed("java")
    settings = dataclasses.replace(SandboxSettings.from_env(), warm_compilers=False,
                                   cgroup_parent=f"{stack_env['SANDBOX_CGROUP_PARENT']}-cold")
    runner = Runner(settings)
    runner.prepare()
    try:
        with ThreadPoolExecutor(1) as pool:
            assert pool.submit(runner.run, java()).result().stdout == "hi 0\n"
        time.sleep(0.5)  # the point: no warm jail is started in this time
        assert runner.warm.ready("java") is None
    finally:
        runner.close()
        remove_test_parent(runner.cgroups)


def _memory_limit_mb(jail) -> int:
    for d in jail.cgroup.layout.dirs(jail.cgroup.name):
        for name in ("memory.limit_in_bytes", "memory.max"):
            if (d / name).exists():
                return int((d / name).read_text()) >> 20
    raise AssertionError("no memory limit file")


def test_a_warm_jail_has_its_tiers_compile_limits_and_takes_only_a_compile_of_those(warm_runner):
    free, enterprise = CompileCap(20, 512), CompileCap(120, 2048)
    lang = registry().get("java")
    warm_runner.prewarm([lang], free)
    jail = wait_ready(warm_runner)
    assert jail.limits == lang.compile_limits.capped(free) and _memory_limit_mb(jail) == 512
    assert "-Xmx307m" in jail.proc.args  # the compiler's heap is sized for the clamped memory
    bigger = warm_runner.run(java(compile_cap=enterprise))
    assert bigger.status == "success" and jail.proc.poll() is not None  # not used: closed, compiled cold
    following = wait_ready(warm_runner)  # the next one follows the compiles: the enterprise tier's limits
    assert following.limits == lang.compile_limits.capped(enterprise) and _memory_limit_mb(following) == 1536
    wait_warmed_up(following)
    smaller = warm_runner.run(java(compile_cap=free))
    assert smaller.status == "success" and following.proc.poll() is not None
    assert smaller.compile_cpu_time > 0.2  # cold: the enterprise jail never takes a free compile
    assert wait_ready(warm_runner).limits == lang.compile_limits.capped(free)


def test_the_pool_grows_with_the_compile_rate_and_each_jail_serves_one_compile(warm_runner):
    warm_runner.warm.policy = dataclasses.replace(warm_runner.warm.policy, max_idle=3, memory_mb=None)
    warm_runner.run(java())
    first = wait_ready(warm_runner)
    for n in range(40):  # a busy minute of Java compiles in this process
        warm_runner.warm.demand.record("java", now=time.monotonic() - n)
    target = warm_runner.warm.demand.target("java", warm_runner.warm.policy)
    assert target > 1
    warm_runner.warm.refill(first.lang, first.work_mb, first.limits)  # what the next compile does
    jails = wait_until(lambda: (lambda idle: idle if len(idle) >= target else None)(idle_jails(warm_runner)),
                       60, what=f"{target} warm java compilers")
    assert jails[0] is first and len({id(j) for j in jails}) == len(jails) == target
    wait_warmed_up(jails[0])
    results = [warm_runner.run(java(args=("x",) * n)) for n in range(2)]
    assert [r.stdout for r in results] == ["hi 0\n", "hi 1\n"], results
    assert all(j.proc.poll() is not None and not j.work.path.exists() for j in jails[:2])  # used once, in order
    assert all(j.proc.poll() is None for j in jails[2:])


def test_the_pool_stays_within_its_memory_share(warm_runner):
    warm_runner.warm.policy = dataclasses.replace(warm_runner.warm.policy, max_idle=4, memory_mb=1)
    for n in range(40):
        warm_runner.warm.demand.record("java", now=time.monotonic() - n)
    warm_runner.run(java())
    wait_ready(warm_runner)
    time.sleep(1)
    assert len(idle_jails(warm_runner)) == 1  # one per language always; no more beyond the share


def idle_jails(runner) -> list:
    warm = runner.warm
    with warm._lock:
        return list(warm._idle.get("java", ()))


@pytest.mark.slow
def test_kotlins_warm_compiler_starts_from_a_class_data_archive_made_in_a_jail(warm_runner, request):
    installed("kotlin")
    cds = Path(tempfile.mkdtemp(prefix="cds-test-")) / "cds"  # bound into jails: not under pytest's 0700 dirs
    cds.parent.chmod(0o755)
    base = registry().get("kotlin")
    binds = tuple(b for b in base.binds if not b.endswith(":/opt/toolchains/cds")) + (f"{cds}:/opt/toolchains/cds",)
    kotlin = dataclasses.replace(base, binds=binds)
    request.addfinalizer(lambda: shutil.rmtree(cds.parent))
    warm_runner.prewarm([kotlin])
    wait_until(lambda: (cds / "kotlinc-warm.jsa").exists(), 240, interval=0.5, what="the kotlinc archive made")
    assert oct((cds / "kotlinc-warm.jsa").stat().st_mode & 0o777) == "0o644"
    assert not [n for n in os.listdir(cds) if n.endswith(".jsa") and n != "kotlinc-warm.jsa"]
    old = wait_ready(warm_runner, language="kotlin")  # started before the archive existed
    warm_runner.warm.take(kotlin, old.work_mb, old.limits).close()
    jail = wait_until(lambda: (lambda j: j if j is not None and j is not old else None)(
        warm_runner.warm.ready("kotlin")), 60, what="a warm kotlin compiler after the archive")
    wait_until(lambda: _maps_the_archive(jail), 60, interval=0.2, what="the warm kotlinc mapping its archive")
    wait_warmed_up(jail)
    code = 'fun main(args: Array<String>) { println("kt " + args.size) }'
    result = warm_runner.run(RunSpec(language=kotlin, code=code, args=("a",)))
    assert (result.status, result.stdout) == ("success", "kt 1\n"), result
    assert jail.proc.poll() is not None


def _maps_the_archive(jail) -> bool:
    for tid in jail.cgroup.thread_ids():
        try:
            if "/opt/toolchains/cds/kotlinc-warm.jsa" in Path(f"/proc/{tid}/maps").read_text():
                return True
        except OSError:
            pass
    return False
