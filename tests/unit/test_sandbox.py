"""Narrow unit tests of the sandbox library's pure parts (no jail started)."""
from pathlib import Path

import pytest

from sandbox import cgroups
from sandbox.cgroups import CgroupV1, CgroupV2, ParentCaps, Usage, cgroup_mounts
from sandbox.process import ProcessOutcome
from sandbox.registry import HELPERS_DIR, UnknownLanguage, load_registry, registry
from sandbox.sanitize import sanitize
from sandbox.settings import SandboxSettings
from sandbox.verdict import classify, signal_name

STARTED = "[I] Executing '/usr/bin/tini-static' for '[STANDALONE MODE]'\n"
V1_MOUNTINFO = """\
30 25 0:26 / /sys/fs/cgroup/memory rw,relatime shared:10 - cgroup cgroup rw,memory
31 25 0:27 / /sys/fs/cgroup/pids rw,relatime shared:11 - cgroup cgroup rw,pids
32 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:12 - cgroup cgroup rw,cpu,cpuacct
33 25 0:29 / /sys/fs/cgroup/unified rw,relatime shared:13 - cgroup2 cgroup2 rw
"""


def outcome(returncode=0, log=STARTED, killed_for=None):
    return ProcessOutcome(returncode=returncode, wall_seconds=0.1, stdout=b"", stderr=b"", log=log,
                          killed_for=killed_for)


def usage(oom=False, pids=False, cpu=0.01):
    """The run's usage, CPU already merged from every source the runner has."""
    return Usage(cpu_seconds=cpu, memory_peak_bytes=1 << 20, oom_killed=oom, pids_limited=pids)


def test_sanitize_strips_ansi_and_controls_keeps_newline_tab_unicode():
    raw = "\x1b[31mred\x1b[0m\tok\r\n\x07bell\x00nul \x1b]0;title\x07é✓\n".encode()
    assert sanitize(raw) == "red\tok\nbellnul é✓\n"


def test_sanitize_replaces_invalid_utf8():
    assert sanitize(b"a\xffb") == "a\ufffdb"


def test_registry_resolves_ids_and_aliases_case_insensitively():
    assert registry().get("PY").id == "python"
    assert registry().get("node").id == "javascript"
    with pytest.raises(UnknownLanguage):
        registry().get("cobol-2099")


TWO_TOOLCHAINS = """
[profiles.interpreted]
proc = false
pids = 64
[languages.cs]
name = "C# (old)"
extension = ".cs"
main = "main.cs"
profile = "interpreted"
requires = ["{old}"]
run = ["old", "{{main}}"]
[[languages.cs.toolchains]]
name = "C# (new)"
requires = ["{new}"]
binds = ["{{helpers}}:/opt/codestudio"]
run = ["new", "{{main}}"]
"""


@pytest.mark.parametrize("have", [("old",), ("old", "new"), ("new",), ()])
def test_the_first_alternative_toolchain_present_here_serves_the_language(tmp_path, have):
    for name in have:
        (tmp_path / name).touch()
    path = tmp_path / "languages.toml"
    path.write_text(TWO_TOOLCHAINS.format(old=tmp_path / "old", new=tmp_path / "new"))
    lang = load_registry(path).get("cs")
    if "new" in have:
        assert (lang.name, lang.run, lang.binds) == ("C# (new)", ("new", "{main}"), (f"{HELPERS_DIR}:/opt/codestudio",))
    else:  # the entry's own toolchain, available or not
        assert (lang.name, lang.run, lang.requires) == ("C# (old)", ("old", "{main}"), (str(tmp_path / "old"),))


def test_the_dotnet_compile_helper_is_valid_posix_shell():
    import subprocess

    assert Path(HELPERS_DIR, "dotnet-csc").stat().st_mode & 0o111
    subprocess.run(["/bin/sh", "-n", str(Path(HELPERS_DIR, "dotnet-csc"))], check=True)
    csharp = registry().get("cs")
    assert csharp.name in ("C# (Mono)", "C# (.NET)") and registry().get("c#") is csharp


def test_mountinfo_v1_controllers_sharing_a_mount():
    v1, v2 = cgroup_mounts(V1_MOUNTINFO)
    assert v1["cpu"] == v1["cpuacct"] == Path("/sys/fs/cgroup/cpu,cpuacct")
    assert v1["memory"] == Path("/sys/fs/cgroup/memory")
    assert v2 == Path("/sys/fs/cgroup/unified")


def test_v1_layout_is_chosen_when_unified_mount_has_no_memory_controller():
    layout = cgroups.detect("cs", V1_MOUNTINFO)
    assert layout.version == 1


def _v2_layout(root: Path) -> CgroupV2:
    """A fake v2 mount: the files the kernel would show, as plain files."""
    (root / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (root / "cs").mkdir()
    (root / "cs" / "cgroup.controllers").write_text("cpu memory pids\n")
    (root / "cs" / "memory.swap.max").write_text("max")
    return CgroupV2(root, "cs")


def test_v2_configuration_and_usage(tmp_path):
    layout = _v2_layout(tmp_path)
    layout.prepare()
    assert (tmp_path / "cs" / "cgroup.subtree_control").read_text() == "+memory +pids +cpu"
    run = tmp_path / "cs" / "r1"
    run.mkdir()
    for name in ("memory.swap.max", "cpu.max"):
        (run / name).write_text("max")
    layout.configure("r1", 256 << 20, 64, 1.0)
    assert (run / "memory.max").read_text() == str(256 << 20)
    assert (run / "memory.swap.max").read_text() == "0"
    assert (run / "pids.max").read_text() == "64"
    assert (run / "cpu.max").read_text() == "100000 100000"
    (run / "cpu.stat").write_text("usage_usec 1500000\nuser_usec 1000000\n")
    (run / "memory.peak").write_text(str(10 << 20))
    (run / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    (run / "pids.events").write_text("max 0\n")
    got = layout.usage("r1", layout.oom_watch("r1"))
    assert (got.cpu_seconds, got.memory_peak_bytes, got.oom_killed, got.pids_limited) == (1.5, 10 << 20, True, False)
    flags = layout.nsjail_flags("r1", 256 << 20, 64)
    assert flags[:3] == ["--use_cgroupv2", "--cgroupv2_mount", str(run)]
    assert flags[flags.index("--cgroup_mem_swap_max") + 1] == "0"


def test_v2_parent_caps_all_runs_together_and_nsjail_joins_nothing(tmp_path):
    layout = _v2_layout(tmp_path)
    layout.prepare(ParentCaps(memory_bytes=6 << 30, pids=1024))
    parent = tmp_path / "cs"
    assert (parent / "memory.max").read_text() == str(6 << 30)
    assert (parent / "memory.swap.max").read_text() == "0"
    assert (parent / "pids.max").read_text() == "1024"
    assert layout.join_paths("r1") == []  # v2: nsjail makes its own child (no process in an inner node)


def test_v1_parent_caps_and_runs_charged_in_their_own_cgroup(tmp_path):
    mounts = {c: tmp_path / c for c in ("memory", "pids", "cpu")}
    for mount in mounts.values():
        mount.mkdir()
    (mounts["memory"] / "cs").mkdir()
    for name in ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.kmem.tcp.limit_in_bytes"):
        (mounts["memory"] / "cs" / name).write_text(str(0x7FFFFFFFFFFFF000))  # the kernel's "unlimited"
    layout = CgroupV1(mounts, "cs")
    layout.prepare(ParentCaps(memory_bytes=(6 << 30) + 100, pids=1024))
    for name in ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.kmem.tcp.limit_in_bytes"):
        assert (mounts["memory"] / "cs" / name).read_text() == str(6 << 30)  # whole pages, socket buffers too
    assert (mounts["pids"] / "cs" / "pids.max").read_text() == "1024"
    assert layout.join_paths("r1") == [mounts["memory"] / "cs" / "r1" / "cgroup.procs",
                                       mounts["pids"] / "cs" / "r1" / "cgroup.procs"]
    assert "--cgroup_mem_parent" not in layout.nsjail_flags("r1", 256 << 20, 64)


def test_total_caps_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("SANDBOX_TOTAL_PIDS", "300")
    monkeypatch.setenv("SANDBOX_TOTAL_MEMORY_MB", "2048")
    settings = SandboxSettings.from_env()
    assert (settings.total_pids, settings.total_memory_mb) == (300, 2048)
    monkeypatch.delenv("SANDBOX_TOTAL_MEMORY_MB")
    assert 0 < SandboxSettings.from_env().total_memory_mb < int(Path("/proc/meminfo").read_text().split()[1]) // 1024


def test_v2_without_memory_controller_is_refused(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpu io\n")
    with pytest.raises(cgroups.CgroupUnavailable):
        CgroupV2(tmp_path, "cs")


@pytest.mark.parametrize("case, expected", [
    (dict(o=outcome(137), u=usage(oom=True)), "memory_limit"),
    (dict(o=outcome(137), u=usage()), "error"),  # a user's exit(137): no evidence of a kill
    (dict(o=outcome(137, log=STARTED + "run time >= time limit (2 >= 2)"), u=usage()), "timeout"),
    (dict(o=outcome(137), u=usage(cpu=2.9)), "timeout"),  # CPU rlimit kill
    (dict(o=outcome(143, killed_for="output_limit"), u=usage()), "output_limit"),
    (dict(o=outcome(0), u=usage()), "success"),
    (dict(o=outcome(255, log="[E] Couldn't launch"), u=usage()), "internal_error"),
    (dict(o=outcome(-9), u=usage()), "internal_error"),  # nsjail itself killed by someone else
    (dict(o=outcome(-9), u=usage(oom=True)), "memory_limit"),  # ... by the OOM killer of the run's cgroup
])
def test_classify_uses_evidence_not_exit_codes(case, expected):
    assert classify(case["o"], case["u"], cpu_limit=3.0)[0] == expected


def test_signal_names_follow_the_128_plus_n_convention():
    assert signal_name(139) == "SIGSEGV"
    assert signal_name(1) is None
