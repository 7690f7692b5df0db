"""Hostile programs through the real worker path that are not cases of the numbered §D list
(those are in test_sandbox_suite*.py): CPU accounting, output sanitizing, /dev and passwd."""


def test_cpu_of_a_partly_busy_run_is_measured(run):
    body = run(code="import time\nt = time.process_time()\nwhile time.process_time() - t < 0.8: pass\n"
                    "time.sleep(100)", limits={"timeout": 2, "memory_mb": 128})
    assert body["status"] == "timeout" and 0.7 < body["cpu_time"] < 1.3, body


def test_ansi_and_control_characters_are_removed_from_output(run):
    body = run(code="print('\\x1b[31mred\\x1b[0m\\x07\\x00ok\\r')")
    assert body["stdout"] == "redok\n"


def test_dev_is_read_only_and_passwd_names_only_the_jail_user(run):
    code = ("import os\nprint(sorted(os.listdir('/dev')))\ntry:\n    os.mkdir('/dev/x')\nexcept OSError as e:\n"
            "    print(e.strerror)\nprint(open('/etc/passwd').read().strip())\nprint(os.getuid())\n")
    devices, mkdir, passwd, uid = run(code=code)["stdout"].splitlines()
    assert (devices, mkdir) == ("['null', 'random', 'urandom', 'zero']", "Read-only file system")
    assert passwd == f"sandbox:x:{uid}:{uid}:sandbox:/work:/bin/sh"  # the uid the jail runs as


MOUNTS = """const fs = require("fs");
for (const line of fs.readFileSync("/proc/self/mountinfo", "utf8").trim().split("\\n")) {
  const f = line.split(" ");
  console.log(f[4] + " " + f[5]);
}
"""


def test_no_mount_in_the_jail_honours_setuid_and_only_dev_binds_honour_devices(run):
    """The jail runs as a host uid with no user namespace: a setuid-root binary it could reach
    (su, mount, passwd in the bound /usr) would run as root but for no_new_privs."""
    body = run(language="javascript", code=MOUNTS)
    mounts = dict(line.split(" ") for line in body["stdout"].splitlines())
    assert {"/usr", "/lib", "/bin", "/etc/passwd", "/tmp", "/work", "/proc", "/dev/null"} <= set(mounts), mounts
    for point, options in mounts.items():
        if point != "/":  # the jail's own read-only tmpfs root: nothing on it but mount points
            assert "nosuid" in options.split(","), (point, options)
        if point != "/" and not point.startswith("/dev/"):
            assert "nodev" in options.split(","), (point, options)
