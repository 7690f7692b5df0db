"""Hand-written malformed requests against every write endpoint and the id-taking reads:
each gets a 4xx problem+json with a stable code, never a 500."""
from __future__ import annotations

import json

import pytest

WRITE_ENDPOINTS = ["/codestudio/run", "/codestudio/batch", "/codestudio/project/create", "/codestudio/file/create",
                   "/codestudio/file/update"]

BODIES = {
    "deep array": ("[" * 100_000 + "]" * 100_000, 400, "malformed_json"),
    "deep value": ('{"language": "python", "code": "x", "files": ' + "[" * 50_000 + "]" * 50_000 + "}", 400,
                   "malformed_json"),
    "integer Python does not parse": ('{"language": "python", "code": "1", "limits": {"memory_mb": ' + "9" * 5000
                                      + "}}", 400, "malformed_json"),
    "invalid utf-8": (b'{"language": "python", "code": "\xff\xfe"}', 400, "malformed_json"),
    "truncated": ('{"language": "python", "code": "pri', 400, "malformed_json"),
    "not an object": ('["python", "print(1)"]', 422, "validation_error"),
    "NUL in code": (json.dumps({"language": "python", "code": "print(1)\x00", "name": "p\x00",
                                "project_id": "x", "filename": "a.py", "content": "\x00"}), 422, "validation_error"),
    "NUL in a file name": (json.dumps({"language": "python", "code": "1", "name": "p", "project_id": "x",
                                       "filename": "a\x00.py", "content": "",
                                       "files": [{"name": "a\x00b", "content": ""}]}), 422, "validation_error"),
    "lone surrogate": ('{"language": "python", "code": "\\ud800", "name": "\\udfff", "project_id": "x", '
                       '"filename": "\\ud800", "content": "\\ud800"}', 422, "validation_error"),
    "wrong types": (json.dumps({"language": 5, "code": ["x"], "stdin": {}, "args": "a", "limits": [1], "wait": "maybe",
                                "name": 1, "project_id": 2, "filename": None, "content": 3, "tests": "t",
                                "submissions": {}}), 422, "validation_error"),
    "huge string": (json.dumps({"language": "p" * (3 << 20), "code": "1", "name": "p" * (3 << 20),
                                "project_id": "x", "filename": "a", "content": "", "tests": [],
                                "submissions": []}), 422, "validation_error"),
    "infinite number": ('{"language": "python", "code": "1", "limits": {"timeout": 1e999}, "name": 1e999, '
                        '"project_id": 1e999, "filename": "a", "content": ""}', 422, "validation_error"),
    "NaN": ('{"language": "python", "code": "1", "limits": {"timeout": NaN}, "name": NaN, "project_id": NaN, '
            '"filename": "a", "content": ""}', 422, "validation_error"),
}


@pytest.mark.parametrize("path", WRITE_ENDPOINTS)
@pytest.mark.parametrize("case", list(BODIES))
def test_malformed_bodies_are_4xx_problems(client, user, path, case):
    body, status, code = BODIES[case]
    response = client.post(path, data=body, headers={**user["headers"], "Content-Type": "application/json"})
    assert response.status_code == status, (case, response.get_data(as_text=True)[:300])
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == code


@pytest.mark.parametrize("path", [
    "/codestudio/executions/%00", "/codestudio/executions/" + "x" * 5000, "/codestudio/executions/%ff%fe",
    "/codestudio/batch/%00", "/codestudio/batch/%00/report.csv", "/codestudio/project/%00",
    "/codestudio/file/read?project_id=%00&filename=a", "/codestudio/file/read?project_id=x&filename=%00",
    "/codestudio/file/list?project_id=%00", "/codestudio/executions?cursor=%00", "/codestudio/executions?limit=%00",
    "/codestudio/executions?language=%00", "/codestudio/batch/x?results=%00",
])
def test_malformed_ids_and_queries_are_4xx_problems(client, user, path):
    response = client.get(path, headers=user["headers"])
    assert 400 <= response.status_code < 500, (path, response.get_data(as_text=True)[:300])
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"]


def test_nul_in_a_header_key_is_401(client):
    response = client.get("/codestudio/stats", headers={"Authorization": "Bearer cs_\x00abc"})
    assert (response.status_code, response.get_json()["code"]) == (401, "invalid_api_key")


HUGE_INT = "1" + "0" * 400
COMPAT_CASES = {  # (path, body text, status, the error's keys)
    "judge0 deep array": ("/judge0/submissions", "[" * 100_000 + "]" * 100_000, 400, {"error"}),
    "judge0 batch deep array": ("/judge0/submissions/batch", "[" * 100_000 + "]" * 100_000, 400, {"error"}),
    "judge0 deep value": ("/judge0/submissions", '{"language_id": 71, "source_code": ' + "[" * 50_000 + "]" * 50_000
                          + "}", 400, {"error"}),
    "judge0 huge memory_limit": ("/judge0/submissions", '{"language_id": 71, "source_code": "1", "memory_limit": '
                                 + HUGE_INT + "}", 422, {"memory_limit"}),
    "judge0 batch huge memory_limit": ("/judge0/submissions/batch", '{"submissions": [{"language_id": 71, '
                                       '"source_code": "1", "memory_limit": ' + HUGE_INT + "}]}", 422, None),
    "piston deep array": ("/api/v2/execute", "[" * 100_000 + "]" * 100_000, 400, {"message"}),
    "piston huge run_timeout": ("/api/v2/execute", '{"language": "python", "version": "*", "files": [{"content": '
                                '"1"}], "run_timeout": ' + HUGE_INT + "}", 400, {"message"}),
    "piston huge negative run_memory_limit": ("/api/v2/execute", '{"language": "python", "version": "*", "files": '
                                              '[{"content": "1"}], "run_memory_limit": -' + HUGE_INT + "}", 400,
                                              {"message"}),
}


@pytest.mark.parametrize("case", list(COMPAT_CASES))
def test_malformed_bodies_on_judge0_and_piston_are_their_own_errors(client, user, worker, case):
    path, body, status, keys = COMPAT_CASES[case]
    response = client.post(path, data=body, headers={"X-Auth-Token": user["key"], "Authorization": user["key"],
                                                     "Content-Type": "application/json"})
    assert response.status_code == status, (case, response.get_data(as_text=True)[:300])
    assert response.mimetype == "application/json"
    answer = response.get_json()
    if keys is None:  # a Judge0 batch: the item's field errors
        assert answer == [{"memory_limit": answer[0]["memory_limit"]}]
    else:
        assert set(answer) == keys, answer
