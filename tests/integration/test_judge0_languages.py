"""Every language Judge0's table names runs its sample programs through the Judge0 API (waited,
base64): hello world, stdin, an exit status of 3, and a compile error where it compiles."""
from __future__ import annotations

import base64

import pytest

from app.compat.judge0_ids import LANGUAGES
from sandbox import registry
from tests.support.languages import installed, samples

pytestmark = pytest.mark.sandbox  # the toolchains through the API: the stores behind it do not matter, one CI pass

# one Judge0 id per language (the newest of its ids)
JUDGE0_IDS = sorted({lang: judge0_id for judge0_id, (lang, _) in sorted(LANGUAGES.items())}.items())
URL = "/judge0/submissions?base64_encoded=true&wait=true&fields=*"
ACCEPTED, COMPILE_ERROR, RUNTIME_ERROR_OTHER = 3, 6, 11


def encoded(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def decoded(value: str | None) -> str:
    return base64.b64decode(value or "").decode()


@pytest.mark.parametrize(("language", "judge0_id"), JUDGE0_IDS)
def test_samples_through_judge0(client, user, worker, language, judge0_id):
    installed(language)
    program = samples(language)

    def submit(code: str, **fields) -> dict:
        response = client.post(URL, json={"source_code": encoded(code), "language_id": judge0_id, **fields},
                               headers={"X-Auth-Token": user["key"]})
        assert response.status_code == 201, response.get_data(as_text=True)
        return response.get_json()

    body = submit(program["hello"])
    assert (body["status"]["id"], decoded(body["stdout"])) == (ACCEPTED, "Hello, World!\n"), body
    body = submit(program["echo_stdin"], stdin=encoded("line one\nline two ✓\n"))
    assert decoded(body["stdout"]) == "line one\nline two ✓\n", body
    body = submit(program["runtime_error"])
    assert (body["status"]["id"], body["exit_code"]) == (RUNTIME_ERROR_OTHER, 3), body
    if registry().get(language).compile:
        body = submit(program["compile_error"])
        assert body["status"]["id"] == COMPILE_ERROR and decoded(body["compile_output"]), body
