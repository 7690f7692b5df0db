"""Every defined language, end to end through the API, from its sample programs in
tests/programs/<language>.toml. A language whose toolchain this machine lacks is skipped,
saying so; every defined language must have samples."""
import pytest

from sandbox import registry
from sandbox.toolchains import detect_version
from tests.support.languages import ARGS, COMPILED, LANGUAGES, installed, samples

pytestmark = pytest.mark.sandbox  # the database and Redis behind it do not matter: one CI pass

STDIN = "line one\nline two ✓\n"


@pytest.fixture(params=LANGUAGES)
def language(request, worker):
    return installed(request.param)


@pytest.fixture(params=COMPILED)
def compiled_language(request, worker):
    return installed(request.param)


def explain(body: dict) -> str:
    """The whole story of a run that went wrong (pytest shortens the body's repr)."""
    return " | ".join(f"{k}={body.get(k)!r}" for k in ("status", "returncode", "message", "compile_output",
                                                        "stdout", "stderr"))


def test_hello_world(run, language):
    body = run(language, samples(language)["hello"])
    assert (body["status"], body["stdout"]) == ("success", "Hello, World!\n"), explain(body)
    compiled = body["compile"]  # what compiling used, apart from the run's own figures
    if registry().get(language).compile:
        assert compiled["wall_time"] > 0 and compiled["cpu_time"] >= 0 and compiled["memory_kb"] > 0, body
    else:
        assert compiled is None, body


def test_stdin_reaches_the_program_exactly(run, language):
    body = run(language, samples(language)["echo_stdin"], stdin=STDIN)
    assert body["stdout"] == STDIN, explain(body)


def test_each_arg_is_one_argv_element(run, language):
    body = run(language, samples(language)["echo_args"], args=ARGS)
    assert body["stdout"] == "|".join(ARGS) + "\n", explain(body)


def test_runtime_error_is_error_with_the_exit_status(run, language):
    body = run(language, samples(language)["runtime_error"])
    assert (body["status"], body["returncode"]) == ("error", 3), explain(body)


def test_two_file_program(run, language):
    program = samples(language)["two_files"]
    body = run(language, program["main"], files=program["files"])
    assert (body["status"], body["stdout"]) == ("success", "42\n"), explain(body)


def test_compile_error_is_reported_with_compiler_output(run, compiled_language):
    body = run(compiled_language, samples(compiled_language)["compile_error"])
    assert body["status"] == "compile_error", explain(body)
    assert body["compile_output"].strip() and body["stdout"] == "" and body["returncode"] is None
    assert body["compile"]["wall_time"] > 0, body


@pytest.mark.parametrize("language_id", ["dart", "swift"])
def test_a_language_no_worker_serves_is_listed_unavailable_and_refused_clearly(client, user, worker, language_id):
    if detect_version(registry().get(language_id)) is not None:
        pytest.skip(f"{language_id} is installed here; its sample programs run above")
    listed = {lang["id"]: lang for lang in client.get("/codestudio/languages").get_json()}
    assert listed[language_id]["available"] is False and listed[language_id]["version"] is None
    response = client.post("/codestudio/run", json={"language": language_id, "code": samples(language_id)["hello"]},
                           headers=user["headers"])
    assert response.status_code == 503 and response.get_json()["code"] == "no_worker"


def test_jvm_running_out_of_memory_is_explained(run, worker):
    installed("java")
    body = run("java", "public class Main { public static void main(String[] a) {"
                       " var kept = new java.util.ArrayList<byte[]>(); while (true) kept.add(new byte[1 << 20]); } }")
    assert body["status"] == "memory_limit" or (
        body["status"] == "error" and "OutOfMemoryError" in body["stderr"]), explain(body)
