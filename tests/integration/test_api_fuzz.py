"""Property-based requests generated from our own OpenAPI document (schemathesis): whatever
the input, the API answers without a server error, with the documented content type and shape."""
import copy
import json

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.mark.slow
def test_generated_requests_never_cause_server_errors(app, user, worker):
    schema = schemathesis.openapi.from_wsgi("/codestudio/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 6
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def generated(case):
            case.call_and_validate(headers=user["headers"], checks=CHECKS)

        generated()


def test_a_file_named_dot_is_a_validation_error(client, user):
    """Found by the generated requests above: "." named no file and the check crashed (500)."""
    for name in (".", "./"):
        response = client.post("/codestudio/run", headers=user["headers"], json={
            "language": "python", "code": "print(1)", "files": [{"name": name, "content": "x"}]})
        assert response.status_code == 422 and response.get_json()["code"] == "validation_error", response.data


# Integer bounds and nesting depth on every endpoint of the three APIs that reads a JSON body or
# numeric query parameters. Values go in as raw JSON text: huge integers (also past Python's
# 4300-digit parsing limit), negative numbers, out-of-range floats, the same as strings, nesting.

def _digits(count: int) -> str:
    return "9" * count


NUMBER_TEXTS = st.one_of(
    st.integers(19, 5000).map(_digits), st.integers(19, 5000).map(lambda n: "-" + _digits(n)),
    st.integers(max_value=-1).map(str), st.floats(min_value=1e19, max_value=1e308).map(repr),
    st.floats(min_value=-1e308, max_value=-1e-9).map(repr),
    st.sampled_from(["1e400", "-1e400", "Infinity", "-Infinity", "NaN", "1.5e-400", "-0.0001"]),
)
NESTED = st.tuples(st.sampled_from(["[", '{"a":']), st.one_of(st.integers(1, 300), st.just(100_000))).map(
    lambda opener_depth: opener_depth[0] * opener_depth[1] + "1" + ("]" if opener_depth[0] == "[" else "}")
    * opener_depth[1])
BODY_VALUES = st.one_of(NUMBER_TEXTS, NUMBER_TEXTS.map(json.dumps), NESTED)
QUERY_VALUES = st.one_of(NUMBER_TEXTS, st.sampled_from(["0", "", "x", "1.0", "0x10", " 5 ", "٣"]))

JUDGE0_ITEM = {"source_code": "print(1)", "language_id": 71}
JUDGE0_NUMBERS = ["language_id", "cpu_time_limit", "cpu_extra_time", "wall_time_limit", "memory_limit", "stack_limit",
                  "max_processes_and_or_threads", "max_file_size", "number_of_runs"]
PISTON_NUMBERS = ["run_timeout", "run_cpu_time", "run_memory_limit", "compile_timeout", "compile_cpu_time",
                  "compile_memory_limit"]
# (api, path, a valid body, where a number or any value goes: () is the whole body)
BODY_ENDPOINTS = [
    ("native", "/codestudio/run", {"language": "python", "code": "print(1)", "wait": False},
     [(), ("limits", "timeout"), ("limits", "memory_mb"), ("args",), ("wait",)]),
    ("native", "/codestudio/batch", {"language": "python", "tests": [{"name": "t", "expected_output": "1"}],
                                     "submissions": [{"id": "a", "code": "print(1)"}]},
     [(), ("abs_tol",), ("rel_tol",), ("limits", "timeout"), ("limits", "memory_mb"), ("tests", 0, "points"),
      ("tests", 0, "limits", "memory_mb")]),
    ("native", "/codestudio/project/create", {"name": "p", "language": "python"}, [(), ("description",)]),
    ("native", "/codestudio/file/create", {"project_id": "x", "filename": "a.py", "content": ""}, [(), ("content",)]),
    ("native", "/codestudio/file/update", {"project_id": "x", "filename": "a.py", "content": ""}, [(), ("content",)]),
    ("native", "/codestudio/file/delete", {"project_id": "x", "filename": "a.py"}, [(), ("project_id",)]),
    ("judge0", "/judge0/submissions", JUDGE0_ITEM, [(), *((field,) for field in JUDGE0_NUMBERS)]),
    ("judge0", "/judge0/submissions/batch", {"submissions": [JUDGE0_ITEM]},
     [(), ("submissions",), *(("submissions", 0, field) for field in JUDGE0_NUMBERS)]),
    ("piston", "/api/v2/execute", {"language": "python", "version": "*", "files": [{"content": "print(1)"}]},
     [(), ("files",), *((field,) for field in PISTON_NUMBERS)]),
]
QUERY_ENDPOINTS = [("native", "/codestudio/executions", "limit"), ("judge0", "/judge0/submissions", "page"),
                   ("judge0", "/judge0/submissions", "per_page")]
PLACEHOLDER = "__fuzzed_value__"


def _with_value(body: dict, where: tuple, value_text: str) -> str:
    """The body as JSON text with the raw value_text at `where`."""
    if not where:
        return value_text
    body = copy.deepcopy(body)
    holder = body
    for key in where[:-1]:  # a missing object on the way is added
        holder = holder[key] if isinstance(holder, list) else holder.setdefault(key, {})
    holder[where[-1]] = PLACEHOLDER
    return json.dumps(body).replace(json.dumps(PLACEHOLDER), value_text)


def _field_errors(body) -> bool:
    return isinstance(body, dict) and bool(body) and all(
        isinstance(messages, list) and all(isinstance(m, str) for m in messages) for messages in body.values())


def _in_own_error_shape(api: str, response) -> bool:
    body = response.get_json(silent=True)
    if api == "native":
        return response.mimetype == "application/problem+json" and isinstance(body.get("code"), str) \
            and body.get("status") == response.status_code
    if response.mimetype != "application/json" or body is None:
        return False
    if api == "piston":
        return isinstance(body.get("message"), str) and set(body) <= {"message", "code"}
    if isinstance(body, list):  # a Judge0 batch: per item a token or the item's field errors
        return all(set(item) == {"token"} or _field_errors(item) for item in body)
    return (isinstance(body.get("error"), str) and set(body) <= {"error", "code"}) or _field_errors(body)


def _check(api: str, response, sent: str) -> None:
    assert response.status_code < 500, (sent[:200], response.get_data(as_text=True)[:300])
    if response.status_code >= 400:
        assert _in_own_error_shape(api, response), (sent[:200], response.get_data(as_text=True)[:300])


def test_integer_bounds_and_nesting_never_cause_server_errors_on_any_api(app, make_user, worker, batch_worker):
    caller = make_user("enterprise")  # its rate limit leaves room for every example
    headers = {**caller["headers"], "Content-Type": "application/json"}

    @given(endpoint=st.sampled_from(BODY_ENDPOINTS), data=st.data())
    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def bodies(endpoint, data):
        api, path, body, places = endpoint
        sent = _with_value(body, data.draw(st.sampled_from(places)), data.draw(BODY_VALUES))
        with app.test_client() as client:
            _check(api, client.post(path, data=sent, headers=headers), sent)

    @given(endpoint=st.sampled_from(QUERY_ENDPOINTS), value=QUERY_VALUES)
    @settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def queries(endpoint, value):
        api, path, name = endpoint
        with app.test_client() as client:
            _check(api, client.get(path, query_string={name: value}, headers=headers), f"{name}={value}")

    bodies()
    queries()
