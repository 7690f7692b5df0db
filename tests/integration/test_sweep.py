"""Start-up sweeps after a crash: several workers (and their pool processes) start together over
hundreds of a dead fleet's leftovers, each sweeping what the others are removing at the same
moment. Every one of them must start, and every leftover must be gone."""
from __future__ import annotations

import dataclasses
import multiprocessing
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from sandbox import Runner, cgroups, workdir
from sandbox.runner import _start_ticks
from sandbox.settings import SandboxSettings
from tests.support.polling import wait_until
from tests.support.sandbox_suite import dead_owner_token
from tests.support.workers import wait_for_worker

pytestmark = pytest.mark.sandbox  # the database and Redis behind it do not matter: one CI pass

ROOT = Path(__file__).resolve().parents[2]
DEAD_OWNERS = 6
RUNS_PER_OWNER = 25  # per dead owner: a run and a compile cgroup in every controller, a mounted run dir
STRAGGLERS = 4  # jail processes a killed worker left running in its run cgroups


@dataclass
class Leftovers:
    """What a fleet of killed workers left: run cgroups (with nsjail's child cgroup and per-thread
    CPU accounting groups), mounted run dirs and warm compile jails' dirs, and a few live jail
    processes; plus one live owner's run, which no sweep may touch."""
    layout: object
    runs_dir: Path
    cgroup_names: list[str] = field(default_factory=list)
    run_dirs: list[Path] = field(default_factory=list)
    stragglers: list[subprocess.Popen] = field(default_factory=list)
    kept: str = ""

    def plant(self) -> Leftovers:
        for _ in range(DEAD_OWNERS):
            token = dead_owner_token()
            for run in range(RUNS_PER_OWNER):
                name = f"{token}.{uuid.uuid4().hex[:12]}"
                self._cgroup(f"{name}-compile")
                self._cgroup(f"{name}-run", nsjail_child=True)
                self.run_dirs.append(self._run_dir(name, mounted=run % 5 != 0))
            self._cgroup(f"{token}.acct-{os.getpid()}")
            self.run_dirs.append(self._run_dir(f"{token}.warm-{uuid.uuid4().hex[:12]}", mounted=True))
        for proc in self.stragglers_in(self.cgroup_names[:STRAGGLERS * 2:2]):
            self.stragglers.append(proc)
        self.kept = f"{os.getpid()}-{_start_ticks(os.getpid())}.kept-{uuid.uuid4().hex[:8]}"
        self._cgroup(self.kept)
        self.run_dirs.append(self._run_dir(self.kept, mounted=False))
        return self

    def _cgroup(self, name: str, nsjail_child: bool = False) -> None:
        for d in self.layout.dirs(name):
            d.mkdir()
            if nsjail_child and (self.layout.version == 2 or d.parent.parent == self.layout.mounts.get("cpu")):
                (d / f"NSJAIL.{uuid.uuid4().int % 100000}").mkdir()
        self.cgroup_names.append(name)

    def _run_dir(self, name: str, mounted: bool) -> Path:
        if mounted:
            return workdir.Workdir(self.runs_dir, name, 1).__enter__().path
        (self.runs_dir / name).mkdir(mode=0o700)
        return self.runs_dir / name

    def stragglers_in(self, names: list[str]):
        for name in names:
            proc = subprocess.Popen(["/bin/sleep", "600"])
            for d in self.layout.dirs(name):
                if self.layout.version == 2 or d.parent.parent in (self.layout.mounts["memory"],
                                                                   self.layout.mounts["pids"]):
                    (d / "cgroup.procs").write_text(str(proc.pid))
            yield proc

    def remaining(self) -> list[str]:
        left = [str(d) for name in self.cgroup_names if name != self.kept for d in self.layout.dirs(name) if d.exists()]
        left += [str(p) for p in self.run_dirs if p.exists() and self.kept not in p.name]
        mounts = Path("/proc/self/mountinfo").read_text()
        return left + [str(p) for p in self.run_dirs if f" {p} " in mounts]

    def assert_swept(self) -> None:
        assert self.remaining() == [], self.remaining()[:10]
        for proc in self.stragglers:
            assert proc.wait(timeout=10) == -signal.SIGKILL
        assert all(d.exists() for d in self.layout.dirs(self.kept)) and (self.runs_dir / self.kept).exists()

    def clean_up(self) -> None:
        for proc in self.stragglers:
            proc.kill()
            proc.wait()
        for d in self.layout.dirs(self.kept):
            d.rmdir()
        (self.runs_dir / self.kept).rmdir()
        for path in self.run_dirs:  # only if a sweep failed: nothing is left otherwise
            if path.exists():
                workdir.remove(path)
        for name in self.cgroup_names:
            cgroups.RunCgroup(self.layout, name).destroy()


@pytest.fixture
def sweep_settings(stack_env, tmp_path):
    """A cgroup parent and runs dir of this test's own, so no other worker sweeps them meanwhile."""
    base = Path(os.path.dirname(stack_env["SANDBOX_RUNS_DIR"]))
    runs_dir = base / f"sweep-{uuid.uuid4().hex[:8]}"
    settings = dataclasses.replace(SandboxSettings.from_env(), runs_dir=runs_dir, warm_compilers=False,
                                   cgroup_parent=f"{stack_env['SANDBOX_CGROUP_PARENT']}-sweep")
    Runner(settings).prepare()
    yield settings
    cgroups.remove_parent(cgroups.detect(settings.cgroup_parent))
    runs_dir.rmdir()


def _prepare_when_told(settings: SandboxSettings, ready, go, errors) -> None:
    with ready.get_lock():
        ready.value += 1
    go.wait()
    try:
        Runner(settings).prepare()
    except Exception as exc:  # what the worker would refuse to start with
        errors.put(f"{type(exc).__name__}: {exc}")


@pytest.mark.parametrize("round_", range(5))
def test_sweep_entries_starting_together_all_start_and_remove_every_leftover(sweep_settings, round_):
    """The sweep a worker runs at boot, in several processes released at the same moment."""
    leftovers = Leftovers(cgroups.detect(sweep_settings.cgroup_parent), sweep_settings.runs_dir).plant()
    try:
        ctx = multiprocessing.get_context("fork")
        ready, go, errors = ctx.Value("i", 0), ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=_prepare_when_told, args=(sweep_settings, ready, go, errors)) for _ in range(6)]
        for proc in procs:
            proc.start()
        wait_until(lambda: ready.value == len(procs), 30, what="every sweeping process waiting for the start")
        go.set()
        for proc in procs:
            proc.join(timeout=60)
        assert [p.exitcode for p in procs] == [0] * len(procs)
        found = []
        while not errors.empty():
            found.append(errors.get())
        assert found == []
        leftovers.assert_swept()
    finally:
        leftovers.clean_up()


# -- the same through real Celery workers ------------------------------------------------------

@pytest.fixture
def own_broker(tmp_path):
    """An embedded Redis of this test's own: its workers take no one else's work."""
    from app.cli.stack import start_embedded_redis

    proc, url = start_embedded_redis(tmp_path, save="")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def _start_workers(count: int, settings: SandboxSettings, broker: str, log_dir: Path) -> list[tuple]:
    env = {**os.environ, "REDIS_URL": broker, "SANDBOX_RUNS_DIR": str(settings.runs_dir),
           "SANDBOX_CGROUP_PARENT": settings.cgroup_parent, "SANDBOX_WARM_COMPILERS": "0",
           "RECOVERY_INTERVAL_SECONDS": "3600", "CODESTUDIO_WORKER_KINDS": "interactive"}
    env.pop("CELERY_BROKER_URL", None)
    started = []
    for n in range(count):
        name = f"sweep{n}-{uuid.uuid4().hex[:6]}@{os.uname().nodename}"
        log = log_dir / f"{name}.log"
        with open(log, "w") as out:
            proc = subprocess.Popen(
                [str(Path(sys.executable).with_name("celery")), "-A", "worker:celery", "worker", "-c", "2", "-n", name,
                 "-Q", "lang.python", "--loglevel", "INFO", "--without-mingle", "--without-gossip"],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        started.append((name, proc, log))
    return started


def _wait_started(broker: str, workers: list[tuple], seconds: float = 60) -> None:
    client, deadline = redis.Redis.from_url(broker), time.monotonic() + seconds
    for name, proc, log in workers:
        wait_for_worker(client, name, proc, log, max(0.0, deadline - time.monotonic()))


def _stop(workers: list[tuple]) -> None:
    for _, proc, _ in workers:
        proc.terminate()
    for _, proc, _ in workers:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(3))
def test_workers_starting_together_after_a_crash_all_start_and_sweep_every_leftover(
        app, sweep_settings, own_broker, tmp_path, round_):
    leftovers = Leftovers(cgroups.detect(sweep_settings.cgroup_parent), sweep_settings.runs_dir).plant()
    workers = []
    try:
        workers = _start_workers(4, sweep_settings, own_broker, tmp_path)
        _wait_started(own_broker, workers)
        leftovers.assert_swept()
        for _, _, log in workers:
            text = log.read_text()
            assert "refuses to start" not in text and "Traceback" not in text, text[-3000:]
    finally:
        _stop(workers)
        leftovers.clean_up()
