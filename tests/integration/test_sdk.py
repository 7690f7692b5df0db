"""The Python SDK (codestudio_client) against the deployed stack (nginx + gunicorn, a worker, nsjail):
each scenario is written once and run with Client and with AsyncClient (tests/support/sdk_clients.py)."""
from __future__ import annotations

import pytest
from codestudio_client import Execution, NotFound, Unauthorized, UnknownLanguage

from tests.support.languages import installed
from tests.support.sdk_clients import KINDS, run, sdk

C_PROGRAM = """#include <stdio.h>
int main(int argc, char **argv) { int n; scanf("%d", &n); printf("%d %s\\n", n * 2, argv[1]); return 3; }
"""
RAISES = "def f():\n    raise ValueError('bad value')\nf()\n"


@KINDS
def test_runs_python_and_a_compiled_language(kind, front, user, worker):
    c = installed("c")

    async def scenario():
        async with sdk(kind, front.url, user["key"]) as api:
            hello = await api.execute_code("python", "print(input()[::-1])", stdin="abc\n")
            assert isinstance(hello, Execution) and hello.ok and hello.stdout == "cba\n", hello
            assert (hello.exit_code, hello.language, hello.truncated.stdout) == (0, "python", False)
            assert hello.wall_time is not None and hello.raw["id"] == hello.id

            compiled = await api.execute_code(c, C_PROGRAM, stdin="21", args=["x y"], limits={"timeout": 5})
            assert (compiled.status, compiled.exit_code, compiled.stdout) == ("error", 3, "42 x y\n"), compiled
            assert not compiled.ok

            failed = await api.execute_code("python", RAISES, files={"data.txt": "unused"})
            assert (failed.status, failed.exit_code) == ("error", 1) and "ValueError: bad value" in failed.stderr

            queued = await api.execute_code("python", "print(7)", wait=False)
            assert (await api.wait_execution(queued.id, timeout=60)).stdout == "7\n"
            assert (await api.get_execution(hello.id)).stdout == "cba\n"
            listed = [e.id async for e in api.list_executions(page_size=2)]
            assert {hello.id, compiled.id, failed.id, queued.id} <= set(listed[:8])
            assert listed == list(dict.fromkeys(listed))  # pages never repeat an execution
            languages = {lang.id: lang for lang in await api.languages()}
            assert languages["python"].available and "py" in languages["python"].aliases

    run(scenario())


@KINDS
def test_project_round_trip(kind, front, user, worker):
    async def scenario():
        async with sdk(kind, front.url, user["key"]) as api:
            project = await api.create_project(f"sdk-{kind}", "python", entry="main.py", files={
                "main.py": "from lib.util import greet\nprint(greet(input()))\n"})
            assert (project.language, project.entry, [f.name for f in project.files]) == (
                "python", "main.py", ["main.py"])
            await api.write_file(project.id, "lib/util.py", "def greet(n):\n    return 'hi ' + n\n")
            await api.write_file(project.id, "lib/util.py", "def greet(n):\n    return 'hello ' + n\n")
            assert [f.name for f in await api.list_files(project.id)] == ["lib/util.py", "main.py"]
            assert (await api.read_file(project.id, "lib/util.py")).startswith("def greet(n):\n    return 'hello")
            ran = await api.run_project(project.id, stdin="ada\n")
            assert ran.ok and ran.stdout == "hello ada\n" and ran.project_id == project.id, ran
            assert project.id in {p.id for p in await api.list_projects()}

            await api.delete_file(project.id, "lib/util.py")
            assert [f.name for f in (await api.get_project(project.id)).files] == ["main.py"]
            await api.delete_project(project.id)
            with pytest.raises(NotFound) as gone:
                await api.get_project(project.id)
            assert gone.value.code == "project_not_found"

    run(scenario())


@KINDS
def test_a_batch_reports_increasing_progress(kind, front, user, batch_worker):
    tests = [{"name": "double", "stdin": "2", "expected_output": "4"},
             {"name": "zero", "stdin": "0", "expected_output": "0"}]
    submissions = [{"id": "right", "code": "print(int(input()) * 2)"},
                   {"id": "wrong", "code": "print(int(input()) - 1)"},
                   {"id": "files", "files": [{"name": "main.py", "content": "print(2 * int(input()))"}]}]

    async def scenario():
        async with sdk(kind, front.url, user["key"]) as api:
            batch = await api.submit_batch("python", tests, submissions, compare="trim")
            assert batch.status in ("queued", "running") and batch.progress.total == 6
            seen = []
            done = await api.wait_batch(batch.id, on_progress=seen.append, poll=0.3)
            assert done.status == "done" and done.progress.done == 6
            dones = [p.done for p in seen]
            assert dones == sorted(set(dones)) and dones[-1] == 6 and all(p.total == 6 for p in seen), seen
            sheet = await api.batch_report(batch.id)
            assert {row["submission"]: row["score"] for row in sheet["rows"]} == {"right": 2, "wrong": 0, "files": 2}
            assert (await api.batch_report_csv(batch.id)).startswith(b"submission,status,compile,double,zero")

    run(scenario())


@KINDS
def test_errors_are_typed(kind, front, user):
    async def scenario():
        async with sdk(kind, front.url, "cs_not-a-key") as api:
            with pytest.raises(Unauthorized) as refused:
                await api.execute_code("python", "print(1)")
            assert refused.value.status == 401 and refused.value.code
        async with sdk(kind, front.url, user["key"]) as api:
            with pytest.raises(UnknownLanguage) as unknown:
                await api.execute_code("klingon", "print(1)")
            assert (unknown.value.status, unknown.value.code) == (422, "unknown_language")
            assert "python" in unknown.value.detail and unknown.value.problem["code"] == "unknown_language"
            with pytest.raises(NotFound) as missing:
                await api.get_execution("no-such-execution")
            assert missing.value.code == "execution_not_found"

    run(scenario())


@KINDS
def test_artifacts_errors_and_a_repeated_idempotency_key(kind, front, user, worker):
    plot = "import os\nos.makedirs('/work/out/plots')\nopen('/work/out/plots/a.csv', 'w').write('x,y\\n1,2\\n')\n"

    async def scenario():
        async with sdk(kind, front.url, user["key"]) as api:
            made = await api.execute_code("python", plot)
            [artifact] = made.artifacts
            assert (artifact.name, artifact.size, artifact.mime) == ("plots/a.csv", 8, "text/csv"), made.artifacts
            assert await api.download_artifact(made.id, artifact.name) == b"x,y\n1,2\n"
            with pytest.raises(NotFound):
                await api.download_artifact(made.id, "plots/missing.csv")

            failed = await api.execute_code("python", RAISES)
            if "error" in failed.raw:  # servers that parse a failed run's stderr name its error
                assert (failed.error.name, failed.error.message) == ("ValueError", "bad value"), failed
                assert "line 2" in failed.error.traceback
            else:
                assert failed.error is None

            key = f"sdk-test-{kind}-{made.id}"
            first = await api.execute_code("python", "print(1)", idempotency_key=key)
            again = await api.execute_code("python", "print(1)", idempotency_key=key)
            assert first.id == again.id and again.stdout == "1\n"

    run(scenario())
