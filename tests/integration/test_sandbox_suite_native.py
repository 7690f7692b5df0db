"""§D cases (../shared/notes/sandbox.md) that need C, the JVM, node or Haskell, through the real
worker path. A case whose toolchain this machine lacks is skipped, saying which."""
import json
from pathlib import Path

import pytest
from tests.support.sandbox_suite import canaries_fixture, module_run_fixture  # noqa: F401 (fixtures)
from tests.integration.test_languages import installed

from sandbox import registry
from sandbox.jail import JAIL_ENV
from sandbox.settings import SandboxSettings

JAVA_MEMORY_MB = 256


@pytest.fixture
def node(worker):
    return registry().get(installed("javascript"))


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
for (const map of ['uid_map', 'gid_map']) console.log(fs.readFileSync('/proc/self/' + map, 'utf8').trim().split(/\\s+/).join(' '));
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


def test_d27_node_child_process_sees_only_the_jail_environment(run, node):
    body = run("javascript", "process.stdout.write(require('child_process').execSync('printenv').toString())")
    env = dict(line.split("=", 1) for line in lines(body))
    assert env == {**JAIL_ENV, **node.env, "PWD": "/work"}  # PWD: set by the /bin/sh execSync starts


def test_d28_node_buffer_hog_is_memory_limit(run, node):
    body = run("javascript", "const a=[]; while(true) a.push(Buffer.alloc(10<<20, 1));",
               limits={"timeout": 5, "memory_mb": 256})
    assert (body["status"], body["signal"]) == ("memory_limit", "SIGKILL"), body


NODE_NETWORK = """const net = require('net');
console.log(Object.keys(require('os').networkInterfaces()).join(' '));
const attempt = ([host, port]) => new Promise(done => {
  const s = net.connect({host, port}, () => { console.log(host, 'CONNECTED'); s.destroy(); done(); });
  s.on('error', e => { console.log(host, e.code); done(); });
});
(async () => {
  for (const t of [['127.0.0.1', 22], ['8.8.8.8', 53], ['::1', 22]]) await attempt(t);
  require('dns').lookup('pypi.org', err => console.log('dns', err ? err.code : 'resolved'));
})();
"""

JAVA_NETWORK = """import java.net.*;
import java.util.*;
public class Main {
    public static void main(String[] args) throws Exception {
        List<String> names = new ArrayList<>();
        for (NetworkInterface n : Collections.list(NetworkInterface.getNetworkInterfaces())) names.add(n.getName());
        System.out.println(names);
        for (String host : new String[] {"127.0.0.1", "8.8.8.8", "::1"}) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(host, 22), 2000);
                System.out.println(host + " CONNECTED");
            } catch (Exception e) {
                System.out.println(host + " " + e.getMessage());
            }
        }
        try {
            InetAddress.getByName("pypi.org");
            System.out.println("dns resolved");
        } catch (UnknownHostException e) {
            System.out.println("dns " + e.getClass().getSimpleName());
        }
    }
}"""


@pytest.mark.parametrize("language, code, expected", [
    ("javascript", NODE_NETWORK, "lo\n127.0.0.1 ECONNREFUSED\n8.8.8.8 ENETUNREACH\n::1 ECONNREFUSED\ndns EAI_AGAIN\n"),
    ("java", JAVA_NETWORK, ("[lo]\n127.0.0.1 Connection refused\n8.8.8.8 Network is unreachable\n::1 Connection refused\n"
                           "dns UnknownHostException\n")),
], ids=["d11_node", "d11_jvm"])
def test_d11_node_and_the_jvm_have_no_network_either(run, worker, language, code, expected):
    installed(language)
    body = run(language, code, limits={"timeout": 10, "memory_mb": JAVA_MEMORY_MB})
    assert (body["status"], body["stdout"]) == ("success", expected), body


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


def test_d30_java_thread_bomb_is_refused_at_the_pids_limit(run, java):
    code = ("public class Main { public static void main(String[] a) { while (true) { Thread t = new Thread(() -> {"
            " try { Thread.sleep(100000); } catch (InterruptedException e) {} }); t.setDaemon(true); t.start(); } } }")
    body = run("java", code, limits={"timeout": 10, "memory_mb": JAVA_MEMORY_MB})
    assert (body["status"], body["message"]) == ("error", "process limit reached"), body
    assert "java.lang.OutOfMemoryError: unable to create native thread" in body["stderr"]


def test_d31_java_heap_hog_is_a_java_heap_error(run, java):
    code = ("public class Main { public static void main(String[] a) {"
            " var kept = new java.util.ArrayList<byte[]>(); while (true) kept.add(new byte[1 << 20]); } }")
    body = run("java", code, limits={"timeout": 10, "memory_mb": JAVA_MEMORY_MB})
    assert (body["status"], body["returncode"]) == ("error", 1), body
    assert body["stderr"].startswith('Exception in thread "main" java.lang.OutOfMemoryError: Java heap space')


INT80 = """#include <stdio.h>
int main(void) {
    long ret;
    puts("before");
    fflush(stdout);
    __asm__ volatile ("int $0x80" : "=a"(ret) : "a"(20L) : "memory");  /* i386 getpid */
    printf("survived %ld\\n", ret);
    return 0;
}"""

X32 = """#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
int main(void) {
    long nrs[] = {39, 272, 101, 165};  /* getpid, unshare, ptrace, mount: with the x32 bit */
    for (int i = 0; i < 4; i++) {
        long ret;
        __asm__ volatile ("syscall" : "=a"(ret) : "a"(0x40000000L | nrs[i]), "D"(0L), "S"(0L), "d"(0L)
                          : "rcx", "r11", "memory");
        printf("%ld %s\\n", nrs[i], ret < 0 ? strerrorname_np(-ret) : "ran");
    }
    return 0;
}"""


def test_d20_i386_int_0x80_is_killed_with_sigsys(run, c):
    body = run("c", INT80)
    assert (body["status"], body["returncode"], body["stdout"]) == ("error", 128 + 31, "before\n"), body
    assert body["message"] == "exit status 159: the status of a process killed by SIGSYS"


def test_d34_x32_system_calls_are_enosys(run, c):
    body = run("c", X32)
    assert lines(body) == ["39 ENOSYS", "272 ENOSYS", "101 ENOSYS", "165 ENOSYS"]


def test_d42_compiler_include_of_host_files_fails_without_leaking_them(run, c, canaries):
    shadow = Path("/etc/shadow").read_text().splitlines() if Path("/etc/shadow").exists() else []
    for path in ("/etc/shadow", str(canaries.secret)):
        body = run("c", f'#include "{path}"\nint main(void) {{ return 0; }}\n')
        assert body["status"] == "compile_error", body
        assert f"{path}: No such file or directory" in body["compile_output"]
        leaked = [line for line in shadow + [canaries.secret.read_text().strip()] if line and line in body["compile_output"]]
        assert not leaked


TH_WRITE = """{{-# LANGUAGE TemplateHaskell #-}}
import Language.Haskell.TH
$(runIO (writeFile "{target}" "pwned") >> return [])
main :: IO ()
main = putStrLn "compiled"
"""


@pytest.mark.parametrize("target", ["/usr/pwned", "/etc/pwned", "/dev/pwned"])
def test_d42_compile_time_code_cannot_write_outside_work(run, worker, target):
    """Template Haskell runs code inside the compiler (the DMOJ #318 class): it is sandboxed too."""
    installed("haskell")
    body = run("haskell", TH_WRITE.format(target=target), limits={"timeout": 5, "memory_mb": 256})
    assert body["status"] == "compile_error", body
    assert f"{target}: openFile: permission denied (Read-only file system)" in body["compile_output"]
