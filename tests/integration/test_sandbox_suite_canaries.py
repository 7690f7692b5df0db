"""§D case 37 (../shared/notes/sandbox.md; Judge0 CVE-2024-28185/28189): programs plant
symlinks, FIFOs and hard links under every name the worker could touch after the run — for
single runs, for a compiled language's run in its compile dir, and for the batch path, whose
compile dir is snapshotted — and root-owned canary files on the host keep content, owner and
mode (the `canaries` fixture checks them after each test)."""
import os
import time
from pathlib import Path

import pytest

from sandbox import artifacts
from sandbox.settings import SandboxSettings
from tests.support.batches import grade, verdicts
from tests.support.languages import installed
from tests.support.polling import wait_until
from tests.support.sandbox_suite import canaries_fixture, started_ahead  # noqa: F401 (a fixture)

pytestmark = pytest.mark.sandbox  # the database and Redis behind it do not matter: one CI pass

JAIL_UID = JAIL_GID = SandboxSettings.uid_first  # a uid jails run as; a work dir belongs to its jail's

PLANT_PY = """import os, shutil
names = ["main.py", "helper.py", "out.txt", "output", "stdout", "stderr", "run.sh", "main", "a.out",
         "Main.class", "compile_output", ".cache", "result.json"]
for name in names:
    if os.path.lexists(name):
        os.remove(name)
    os.symlink({secret!r}, name)
shutil.rmtree("pkg")
os.symlink({root!r}, "pkg")
shutil.rmtree("out")  # where the run's files are collected from
os.symlink({root!r}, "out")
os.symlink({root!r} + "/dir", "nested")
os.mkfifo("fifo")
print(len(os.listdir(".")))
"""

PLANT_C = """#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
int main(void) {{
    const char *names[] = {{"main.c", "main", "a.out", "main.o", "out.txt", "run.sh", 0}};
    int n = 0;
    for (; names[n]; n++) {{
        unlink(names[n]);
        if (symlink("{secret}", names[n]) != 0) return 1;
    }}
    if (symlink("{root}", "dir") != 0 || mkfifo("fifo", 0644) != 0) return 2;
    printf("%d\\n", n + 2);
    return 0;
}}
"""


@pytest.mark.parametrize("language, program, planted", [("python", PLANT_PY, "17\n"), ("c", PLANT_C, "8\n")],
                         ids=["d37_python", "d37_c_compiled_in_the_same_dir"])
def test_d37_symlinks_planted_under_every_name_leave_the_canaries_alone(run, canaries, stack_env, language, program,
                                                                         planted):
    installed(language)
    before = set(os.listdir(stack_env["SANDBOX_RUNS_DIR"]))
    body = run(language, program.format(secret=str(canaries.secret), root=str(canaries.root)),
               files=[{"name": "helper.py", "content": "x = 1\n"}, {"name": "pkg/data.txt", "content": "data\n"}])
    assert (body["status"], body["stdout"]) == ("success", planted), body
    assert body["artifacts"] == [], body  # python's out/ became a link to the canaries: not followed
    runs_dir = Path(stack_env["SANDBOX_RUNS_DIR"])

    def left() -> set[str]:  # a jail started ahead of need meanwhile is not this run's
        return {name for name in os.listdir(runs_dir)
                if (name not in before or ".ready-" in name) and not started_ahead(runs_dir / name)}

    # cleaned up without following anything (a ready jail just after its run's result)
    wait_until(lambda: not left(), 5, what=lambda: f"the run dir removed: {left()}")


PLANT_HASKELL = """{{-# LANGUAGE TemplateHaskell #-}}
import Data.List (sort)
import Language.Haskell.TH
import System.Directory (listDirectory)
import System.Posix.Files (createLink, createNamedPipe, createSymbolicLink)

$(runIO (do
    mapM_ (\\n -> createSymbolicLink "{secret}" ("/work/" ++ n)) ["out.txt", "Main.hi", "Main.o", "run.sh", "a.out"]
    createSymbolicLink "{root}" "/work/pkg"
    createNamedPipe "/work/fifo" 420
    createLink "/work/Main.hs" "/work/hardlink") >> return [])

main :: IO ()
main = listDirectory "/work" >>= print . sort
"""


def test_d37_batch_compile_step_plants_links_and_fifos_only_regular_files_are_kept(client, user, batch_worker,
                                                                                    canaries):
    """The batch path snapshots the compile dir after compiling (compile-time code planted the
    links there) and lays the artifacts into a fresh dir per test."""
    installed("haskell")
    code = PLANT_HASKELL.format(secret=str(canaries.secret), root=str(canaries.root))
    # the planted symlinks and the FIFO are not compile artifacts; out/ is made for each run
    expected = '["Main.hs","hardlink","main","out"]\n'
    body = grade(client, user, language="haskell", submissions=[{"id": "planter", "code": code}],
                 tests=[{"name": n, "stdin": "", "expected_output": expected} for n in ("one", "two")],
                 limits={"timeout": 5, "memory_mb": 256})
    assert verdicts(body) == {"planter": ["accepted", "accepted"]}, body


def _jail_file(path: Path, content: bytes, mode: int = 0o644) -> None:
    path.write_bytes(content)
    os.chown(path, JAIL_UID, JAIL_GID)
    path.chmod(mode)


def test_d37_snapshot_skips_links_fifos_hard_links_and_foreign_files(tmp_path, canaries):
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    os.chown(work, JAIL_UID, JAIL_GID)
    _jail_file(work / "main", b"\x7fELF program", 0o755)
    (work / "link").symlink_to(canaries.secret)
    (work / "dirlink").symlink_to(canaries.root)
    (work / "sub" / "up").symlink_to("../../../../..")
    os.mkfifo(work / "fifo")  # opening it must not block
    os.link(canaries.secret, work / "hard")  # only where the work dir shares a file system with it
    (work / "root-owned").write_bytes(b"not the jail's")
    kept = artifacts.snapshot(work, 1 << 20)
    assert [(f.name, f.content, f.executable) for f in kept] == [("main", b"\x7fELF program", True)]


def test_d37_snapshot_refuses_a_huge_sparse_file_without_reading_it(tmp_path):
    os.chown(tmp_path, JAIL_UID, JAIL_GID)
    _jail_file(tmp_path / "huge", b"")
    os.truncate(tmp_path / "huge", 1 << 40)
    start = time.monotonic()
    with pytest.raises(artifacts.ArtifactError, match="larger than"):
        artifacts.snapshot(tmp_path, 64 << 20)
    assert time.monotonic() - start < 1
