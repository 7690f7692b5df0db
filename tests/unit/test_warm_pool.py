"""How many warm compile jails a worker keeps (sandbox/warm_pool.py), and which class-data archive a
warm compiler starts from (sandbox/warm_archive.py)."""
from __future__ import annotations

import dataclasses
import os

import pytest

from sandbox import registry, warm_archive
from sandbox.warm_pool import DEFAULT_WARM_UP_CPU, WINDOW_SECONDS, Demand, PoolPolicy

POLICY = PoolPolicy(max_idle=4)


def test_a_quiet_language_keeps_one():
    demand = Demand()
    assert demand.target("kotlin", POLICY) == 1
    demand.record("kotlin", now=0.0)
    assert demand.target("kotlin", POLICY, now=1.0) == 1


def test_the_pool_follows_the_rate_times_the_warm_up_up_to_its_bound():
    demand = Demand()
    demand.warmed_up("kotlin", 2.0)  # 4 s of wall time at idle priority
    for second in range(30):  # one compile every 2 s
        demand.record("kotlin", now=float(2 * second))
    assert demand.rate("kotlin", now=60.0) == pytest.approx(30 / WINDOW_SECONDS)
    assert demand.target("kotlin", POLICY, now=60.0) == 2
    for second in range(60):  # now two a second as well
        demand.record("kotlin", now=60.0 + second / 2)
    assert demand.target("kotlin", POLICY, now=90.0) == 4  # bounded
    assert demand.target("kotlin", PoolPolicy(max_idle=1), now=90.0) == 1


def test_old_compiles_are_forgotten():
    demand = Demand()
    for n in range(50):
        demand.record("java", now=float(n))
    assert demand.target("java", POLICY, now=50.0) > 1
    assert demand.rate("java", now=200.0) == 0 and demand.target("java", POLICY, now=200.0) == 1


def test_the_warm_up_estimate_follows_what_hand_offs_measured():
    demand = Demand()
    for n in range(60):
        demand.record("java", now=float(n))  # one a second
    assert demand.target("java", POLICY, now=60.0) == min(4, round(DEFAULT_WARM_UP_CPU * 2))
    for _ in range(20):
        demand.warmed_up("java", 0.4)
    demand.warmed_up("java", 0.0)  # taken before it ran at all: not a measurement
    assert demand.target("java", POLICY, now=60.0) == 1


def test_the_memory_share_comes_from_the_sandbox_budget(monkeypatch):
    from sandbox.settings import SandboxSettings

    settings = SandboxSettings(nsjail="/x", tini="/y", runs_dir=os.devnull, total_memory_mb=8000)  # type: ignore[arg-type]
    monkeypatch.delenv("SANDBOX_WARM_POOL_MAX", raising=False)
    assert PoolPolicy.for_settings(settings) == PoolPolicy(max_idle=4, memory_mb=2000)
    monkeypatch.setenv("SANDBOX_WARM_POOL_MAX", "1")
    assert PoolPolicy.for_settings(settings).max_idle == 1


def test_kotlins_warm_compiler_names_an_archive_the_worker_makes_and_javas_does_not():
    kotlin, java = registry().get("kotlin"), registry().get("java")
    archive = warm_archive.archive_of(kotlin)
    assert archive is not None and archive.host_path.name == "kotlinc-warm.jsa"
    assert archive.host_path.parent.name == "cds" and "/opt/" not in str(archive.host_path)
    dump = archive.dump_command(kotlin.warm_compile)
    assert "-XX:ArchiveClassesAtExit=/work/warm.jsa" in dump and archive.flag not in dump
    assert len(dump) == len(kotlin.warm_compile)
    assert warm_archive.archive_of(java) is None  # javac's archive is `make toolchains`'s


def test_an_archive_older_than_its_compiler_is_remade(tmp_path):
    jar, made = tmp_path / "compiler.jar", tmp_path / "cds" / "x-warm.jsa"
    jar.write_bytes(b"jar")
    lang = dataclasses.replace(registry().get("kotlin"), requires=(str(jar),), warm_requires=())
    archive = warm_archive.WarmArchive(made, "-XX:SharedArchiveFile=/opt/x-warm.jsa")
    assert not warm_archive.is_current(archive, lang)
    made.parent.mkdir()
    made.write_bytes(b"archive")
    os.utime(jar, (made.stat().st_mtime + 10,) * 2)
    assert not warm_archive.is_current(archive, lang)
    os.utime(jar, (made.stat().st_mtime - 10,) * 2)
    assert warm_archive.is_current(archive, lang)


def test_only_a_regular_file_is_copied_out_of_the_dump_jail(tmp_path):
    work, target = tmp_path / "work", tmp_path / "cds" / "x-warm.jsa"
    work.mkdir()
    target.parent.mkdir()
    archive = warm_archive.WarmArchive(target, "-XX:SharedArchiveFile=/opt/x-warm.jsa")
    secret = tmp_path / "secret"
    secret.write_bytes(b"not for the jail")
    (work / warm_archive.DUMP_NAME).symlink_to(secret)
    with pytest.raises(OSError):
        warm_archive.install(work, archive)
    assert not target.exists()
    (work / warm_archive.DUMP_NAME).unlink()
    (work / warm_archive.DUMP_NAME).write_bytes(b"classes")
    warm_archive.install(work, archive)
    assert target.read_bytes() == b"classes" and oct(target.stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in target.parent.iterdir()] == ["x-warm.jsa"]  # no temporary file left


def test_one_process_at_a_time_makes_an_archive(tmp_path):
    archive = warm_archive.WarmArchive(tmp_path / "cds" / "x-warm.jsa", "-XX:SharedArchiveFile=/opt/x-warm.jsa")
    with warm_archive.making(archive) as first:
        pid = os.fork()
        if pid == 0:  # another worker process on the host
            with warm_archive.making(archive) as second:
                os._exit(0 if second is False else 1)
        assert first and os.waitpid(pid, 0)[1] == 0
    with warm_archive.making(archive) as again:
        assert again
