"""§D cases (../shared/notes/sandbox.md) that need C, the JVM or node, through the real worker path,
where a case is more than one program and its outcome: one probe run read by several cases, and
compiler includes of host files checked against the canaries (the other C, JVM, node and Haskell
cases are data cases in sandbox_cases/). A case whose toolchain this machine lacks is skipped,
saying which."""
import json
from pathlib import Path

import pytest

from sandbox import registry
from sandbox.settings import SandboxSettings
from tests.support.languages import installed
from tests.support.sandbox_suite import canaries_fixture, module_run_fixture  # noqa: F401 (fixtures)

pytestmark = pytest.mark.sandbox  # the database and Redis behind it do not matter: one CI pass

JAVA_MEMORY_MB = 256


@pytest.fixture
def java(worker):
    return registry().get(installed("java"))


@pytest.fixture
def c(worker):
    return registry().get(installed("c"))


def lines(body) -> list[str]:
    assert body["status"] == "success", body
    return body["stdout"].splitlines()


NODE_PROBE = """const fs = require('fs');
console.log(fs.readdirSync('/proc').filter(n => /^\\d+$/.test(n)).join(' '));
console.log(JSON.stringify(fs.readFileSync('/proc/1/cmdline', 'utf8').split('\\0').slice(0, 3)));
for (const map of ['uid_map', 'gid_map'])
  console.log(fs.readFileSync('/proc/self/' + map, 'utf8').trim().split(/\\s+/).join(' '));
try { fs.readdirSync('/etc/ssl/private'); console.log('listed'); } catch (e) { console.log(e.code); }
console.log(process.getuid(), process.getgid());
const status = fs.readFileSync('/proc/self/status', 'utf8');
console.log(status.split('\\n').filter(l => /^(Seccomp|NoNewPrivs|CapEff|CapPrm|CapBnd):/.test(l)).join(' '));
"""


@pytest.fixture(scope="module")
def node_probe(module_run):
    """One node run answering several cases (/proc, PID 1, id maps, ids, seccomp status)."""
    installed("javascript")
    return lines(module_run("javascript", NODE_PROBE))


def test_d12_node_sees_only_the_jails_processes_in_proc(node_probe):
    assert node_probe[0] == "1 2"  # tini and node; nothing of the host


def test_d18_node_runs_under_seccomp_without_capabilities(node_probe):
    assert node_probe[6].split() == ["CapPrm:", "0000000000000000", "CapEff:", "0000000000000000",
                                     "CapBnd:", "0000000000000000", "NoNewPrivs:", "1", "Seccomp:", "2"]


def test_d23_pid_1_is_tini_not_the_program(node_probe):
    assert json.loads(node_probe[1]) == [SandboxSettings.from_env().tini, "-s", "--"]


def test_d26_node_runs_as_the_jail_user(node_probe):
    uid, gid = map(int, node_probe[5].split())
    assert uid == gid and uid in SandboxSettings.from_env().uid_range  # a host uid leased for the jail


def test_d32_ids_are_an_unprivileged_host_uid_and_root_only_files_stay_closed(node_probe):
    assert node_probe[2:4] == ["0 0 4294967295"] * 2  # no user namespace: the ids are host ids
    assert node_probe[5] != "0 0"
    assert node_probe[4] == "EACCES"  # /etc/ssl/private (root, 0700) is bound in, yet unreadable


JAVA_PROBE = """public class Main {
    public static void main(String[] args) throws Exception {
        System.out.println("hello");
        System.out.println(Runtime.getRuntime().maxMemory() >> 20);
        System.out.println(Runtime.getRuntime().availableProcessors());
        for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status")))
            if (line.startsWith("Threads:")) System.out.println(line.split("\\\\s+")[1]);
    }
}"""


@pytest.fixture(scope="module")
def java_probe(module_run):
    installed("java")
    return lines(module_run("java", JAVA_PROBE, limits={"timeout": 10, "memory_mb": JAVA_MEMORY_MB}))


def test_d29_java_hello_with_a_heap_below_the_memory_limit(java_probe):
    heap_mb = int(JAVA_MEMORY_MB * 0.6)  # -Xmx from the definition's {jvm_heap_mb}
    assert java_probe[0] == "hello"
    assert 0.9 * heap_mb <= int(java_probe[1]) <= heap_mb  # the collector keeps a survivor space back


def test_d41_jvm_sees_one_cpu_and_stays_within_pids(java_probe, java):
    assert java_probe[2] == "1"  # -XX:ActiveProcessorCount=1 whatever the host's core count
    assert 0 < int(java_probe[3]) < java.pids


def test_d42_compiler_include_of_host_files_fails_without_leaking_them(run, c, canaries):
    shadow = Path("/etc/shadow").read_text().splitlines() if Path("/etc/shadow").exists() else []
    for path in ("/etc/shadow", str(canaries.secret)):
        body = run("c", f'#include "{path}"\nint main(void) {{ return 0; }}\n')
        assert body["status"] == "compile_error", body
        assert f"{path}: No such file or directory" in body["compile_output"]
        secrets = shadow + [canaries.secret.read_text().strip()]
        leaked = [line for line in secrets if line and line in body["compile_output"]]
        assert not leaked
