"""The Piston v2 API, checked field by field the way Piston's clients read it, for every
available language (hello world printing OK, stdin, args, two files, compile errors)."""
from __future__ import annotations

import base64

import pytest

from sandbox import registry
from tests.support.languages import ARGS, COMPILED, LANGUAGES, installed, samples
from tests.support.project_api import ProjectApi

STAGE_FIELDS = {"stdout", "stderr", "output", "code", "signal", "message", "status", "cpu_time", "wall_time", "memory"}


def piston_language(lang_id: str) -> str:
    return {"cpp": "c++"}.get(lang_id, lang_id)


def listed_as(lang_id: str) -> str:
    """A variant (Deno, PyPy) is asked for by its alias and answers under its base's name, as in Piston."""
    return piston_language(registry().get(lang_id).variant_of or lang_id)


@pytest.fixture
def execute(client, user, worker):
    def _execute(language, files, expect=200, version="*", headers=None, **fields):
        body = {"language": language, "version": version, "files": files, **fields}
        response = client.post("/api/v2/execute", json=body, headers=headers or {"Authorization": user["key"]})
        assert response.status_code == expect, response.get_data(as_text=True)
        return response.get_json()
    return _execute


def ok_program(lang_id: str) -> str:
    return samples(lang_id)["hello"].replace("Hello, World!", "OK")


def assert_stage(stage: dict, status=None, code=0) -> None:
    assert set(stage) == STAGE_FIELDS, stage
    assert (stage["status"], stage["code"]) == (status, code), stage
    assert stage["output"] == stage["stdout"] + stage["stderr"]


@pytest.fixture(params=LANGUAGES)
def language(request, worker):
    return installed(request.param)


def test_runtimes_list_live_languages_with_their_versions(client, worker):
    runtimes = client.get("/api/v2/runtimes").get_json()  # public, as in Piston
    by_name: dict[str, dict] = {}
    for entry in runtimes:  # a language's base toolchain is listed first, its variants (PyPy, Deno) after
        by_name.setdefault(entry["language"], entry)
    assert {"python", "javascript", "java", "c++"} <= set(by_name)
    assert all(set(r) - {"runtime"} == {"language", "version", "aliases"} for r in runtimes)
    assert by_name["python"]["version"].startswith("3.") and "py" in by_name["python"]["aliases"]
    assert "cpp" in by_name["c++"]["aliases"]


# every language's toolchain through this API: the stores behind it do not matter (one CI pass)
@pytest.mark.sandbox
def test_hello_ok_in_every_language(execute, language):
    lang = registry().get(language)
    body = execute(piston_language(language), [{"name": lang.main, "content": ok_program(language)}])
    assert body["language"] == listed_as(language) and body["version"]
    assert_stage(body["run"])
    assert body["run"]["stdout"] == "OK\n" and body["run"]["signal"] is None
    assert body["run"]["wall_time"] >= 0 and body["run"]["memory"] > 0
    if lang.compile:  # Piston reports what compiling used, as for the run
        assert_stage(body["compile"])
        # (a compiler's threads can use more CPU time than wall time)
        assert body["compile"]["wall_time"] > 0 and body["compile"]["cpu_time"] >= 0 < body["compile"]["memory"], body
    else:
        assert "compile" not in body


# kotlinc compiles three programs cold here: half a minute
@pytest.mark.sandbox
@pytest.mark.parametrize("language_id", [pytest.param(lang, marks=pytest.mark.slow) if lang == "kotlin" else lang
                                         for lang in LANGUAGES])
def test_stdin_args_and_two_files(execute, language_id):
    language = installed(language_id)
    lang, program = registry().get(language), samples(language)
    body = execute(language, [{"content": program["echo_stdin"]}], stdin="no newline")
    assert body["run"]["stdout"] == "no newline\n", body  # Piston appends the newline
    body = execute(language, [{"content": program["echo_args"]}], args=ARGS)
    assert body["run"]["stdout"] == "|".join(ARGS) + "\n"
    main = program["two_files"]
    files = [{"name": lang.main if not lang.entry_regex else "Main" + lang.extension, "content": main["main"]},
             *({"name": f["name"], "content": f["content"]} for f in main["files"])]
    body = execute(language, files)
    assert (body["run"]["status"], body["run"]["stdout"]) == (None, "42\n"), body


@pytest.mark.sandbox
@pytest.mark.parametrize("compiled", COMPILED)
def test_compile_error_copies_the_compile_stage_into_run(execute, worker, compiled):
    installed(compiled)
    body = execute(compiled, [{"content": samples(compiled)["compile_error"]}])
    assert_stage(body["compile"], status="RE", code=1)
    assert body["compile"]["wall_time"] > 0 and body["compile"]["memory"] > 0, body
    assert body["compile"]["output"].strip() and body["run"] == body["compile"]


def test_runtime_error_timeout_and_signals(execute):
    body = execute("py", [{"content": "import sys\nsys.exit(3)"}])
    assert_stage(body["run"], status="RE", code=3)
    body = execute("python", [{"content": "while True: pass"}], run_timeout=1000)
    assert (body["run"]["status"], body["run"]["signal"], body["run"]["code"]) == ("TO", "SIGKILL", None)
    body = execute("python", [{"content": "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)"}])
    assert (body["run"]["status"], body["run"]["signal"]) == ("SG", "SIGSEGV")
    body = execute("python", [{"content": "print('x' * (3 << 20))"}])
    assert (body["run"]["status"], body["run"]["signal"]) == ("OL", "SIGKILL")
    body = execute("python", [{"content": "x = bytearray(400 << 20)"}], run_memory_limit=64 << 20)
    assert (body["run"]["status"], body["run"]["signal"]) == ("SG", "SIGKILL") and "memory" in body["run"]["message"]


def test_encodings_and_version_selectors(execute):
    code = "print('OK')"
    for encoding, content in (("base64", base64.b64encode(code.encode()).decode()), ("hex", code.encode().hex()),
                              ("utf8", code)):
        body = execute("python", [{"content": content, "encoding": encoding}], version="3.x")
        assert body["run"]["stdout"] == "OK\n", encoding
    assert execute("python", [{"content": code}], version="^3")["run"]["stdout"] == "OK\n"


@pytest.mark.parametrize("body, message", [
    ({"version": "*", "files": [{"content": "1"}]}, "language is required as a string"),
    ({"language": "python", "files": [{"content": "1"}]}, "version is required as a string"),
    ({"language": "python", "version": "*"}, "files is required as an array"),
    ({"language": "python", "version": "*", "files": [{"name": "a.py"}]}, "files[0].content is required as a string"),
    ({"language": "klingon", "version": "*", "files": [{"content": "1"}]}, "klingon-* runtime is unknown"),
    ({"language": "python", "version": "2.x", "files": [{"content": "1"}]}, "python-2.x runtime is unknown"),
    ({"language": "python", "version": "*", "files": [{"content": "1"}], "run_timeout": "1"},
     "If specified, run_timeout must be a number"),
    ({"language": "python", "version": "*", "files": [{"content": "1"}], "run_timeout": 10 ** 9},
     "run_timeout cannot exceed the configured limit of 30000"),
    # Piston's bugs, fixed: these are 400s, not a 500 or a silently ignored limit
    ({"language": "python", "version": "*", "files": [{"name": "../../etc/x", "content": "1"}]},
     "files[0].name is not allowed"),
    ({"language": "python", "version": "*", "files": [{"content": "1"}], "run_timeout": 0},
     "run_timeout must be a positive number"),
    ({"language": "python", "version": "*", "files": [{"content": "1"}], "run_memory_limit": -1},
     "run_memory_limit must be a positive number"),
    ({"language": "python", "version": "*", "files": [{"content": "%%%", "encoding": "base64"}]},
     "files[0].content is not valid base64 UTF-8 text"),
    ({"language": "python", "version": "*", "files": [{"content": "1\u0000"}]},
     "files[0].content must not contain NUL characters"),
])
def test_bad_requests_get_pistons_400_messages(client, user, worker, body, message):
    response = client.post("/api/v2/execute", json=body, headers={"Authorization": user["key"]})
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["message"].startswith(message), response.get_json()


def test_content_type_auth_and_bad_json(client, user):
    response = client.post("/api/v2/execute", data="x", headers={"Authorization": user["key"],
                                                                   "Content-Type": "text/plain"})
    assert (response.status_code, response.get_json()) == (
        415, {"message": "requests must be of type application/json"})
    response = client.post("/api/v2/execute", data="{", headers={"Authorization": user["key"],
                                                                   "Content-Type": "application/json"})
    assert response.status_code == 400 and "message" in response.get_json()
    response = client.post("/api/v2/execute", json={"language": "python", "version": "*", "files": [{"content": "1"}]})
    assert response.status_code == 401 and response.get_json()["code"] == "unauthorized"
    response = client.post("/api/v2/execute", json={}, headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401 and response.get_json()["code"] == "invalid_api_key"


def test_runs_are_recorded_and_billed_to_the_caller(client, user, execute):
    execute("python", [{"content": "print('OK')"}], headers={"X-API-Key": user["key"]})
    items = client.get("/codestudio/executions", headers=user["headers"]).get_json()["items"]
    assert items and items[0]["stdout"] == "OK\n" and items[0]["status"] == "success"


def test_empty_stdin_reaches_the_program_as_a_newline(execute):
    installed("awk")
    body = execute("awk", [{"content": '{print "OK"}'}])  # one line read: Piston's "\n"
    assert body["run"]["stdout"] == "OK\n", body


JAVA_HELPER = "public class Helper { public static int answer() { return 42; } }"


def test_java_runs_whatever_its_files_are_named(execute):
    """Piston's Java runs `test.java` holding `public class HelloWorld`; javac wants HelloWorld.java."""
    hello = 'public class HelloWorld { public static void main(String[] a) { System.out.println("OK"); } }'
    body = execute("java", [{"name": "test.java", "content": hello}])
    assert (body["run"]["stdout"], body["compile"]["code"]) == ("OK\n", 0), body
    main = 'public class App { public static void main(String[] a) { System.out.println(Helper.answer()); } }'
    body = execute("java", [{"name": "test.java", "content": main}, {"name": "util.java", "content": JAVA_HELPER}])
    assert body["run"]["stdout"] == "42\n", body


@pytest.mark.slow  # kotlinc, cold
@pytest.mark.parametrize("name", ["test.kt", "my-app.kt"])
def test_kotlin_runs_whatever_its_file_is_named(execute, client, user, name):
    """kotlinc makes `test.kt` the class TestKt (and `my-app.kt` My_appKt), on both APIs."""
    installed("kotlin")
    code = 'fun main() { println("OK") }'
    body = execute("kotlin", [{"name": name, "content": code}])
    assert body["run"]["stdout"] == "OK\n", body
    projects = ProjectApi(client, user["headers"])
    project = projects.project(language="kotlin")
    projects.file(project["id"], name, code)
    response = client.post("/codestudio/run", json={"project_id": project["id"], "filename": name},
                           headers=user["headers"])
    assert response.get_json()["stdout"] == "OK\n", response.get_json()
