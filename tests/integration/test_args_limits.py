"""Program arguments, stdin and code a user can send to break a worker: every API refuses them
as client errors (one argument check, the limits of /codestudio/run), and a worker handed such
an execution anyway ends it at once with a message, never retrying it as infrastructure."""
from __future__ import annotations

import pytest

from app.schemas.common import MAX_ARG_LENGTH, MAX_ARGS
from tests.support.polling import wait_until

HUGE_ARG = "x" * (200 * 1024)  # over the kernel's 128 KiB per argv element: exec fails (E2BIG)
BAD_ARGS = {"huge": [HUGE_ARG], "too many": ["a"] * (MAX_ARGS + 1), "NUL": ["a\x00b"], "lone surrogate": ["\ud800"]}


def native(client, user, args=(), stdin="", code="print(1)"):
    response = client.post("/codestudio/run", headers=user["headers"], json={
        "language": "python", "code": code, "stdin": stdin, "args": list(args), "wait": False})
    return response, response.status_code == 422 and response.get_json()["code"] == "validation_error"


def piston(client, user, args=(), stdin="", code="print(1)"):
    response = client.post("/api/v2/execute", headers={"Authorization": user["key"]}, json={
        "language": "python", "version": "*", "files": [{"content": code}], "stdin": stdin, "args": list(args)})
    return response, response.status_code == 400 and set(response.get_json()) == {"message"}


def judge0(client, user, args=(), stdin="", code="print(1)"):
    import shlex

    response = client.post("/judge0/submissions", headers={"X-Auth-Token": user["key"]}, json={
        "language_id": 71, "source_code": code, "stdin": stdin, "command_line_arguments": shlex.join(args)})
    body = response.get_json()
    return response, response.status_code == 422 and all(isinstance(v, list) for v in body.values())


APIS = {"native": native, "piston": piston, "judge0": judge0}


@pytest.mark.parametrize("api", list(APIS))
@pytest.mark.parametrize("case", list(BAD_ARGS))
def test_bad_arguments_are_client_errors_on_every_api(client, user, worker, api, case):
    response, refused_in_own_shape = APIS[api](client, user, args=BAD_ARGS[case])
    assert refused_in_own_shape, (response.status_code, response.get_data(as_text=True)[:300])


@pytest.mark.parametrize("api", list(APIS))
@pytest.mark.parametrize("field", ["stdin", "code"])
def test_lone_surrogates_and_nul_in_stdin_or_code_are_client_errors(client, user, worker, api, field):
    for text in ("\ud800", "a\x00b"):
        response, refused_in_own_shape = APIS[api](client, user, **{field: text})
        assert refused_in_own_shape, (text, response.status_code, response.get_data(as_text=True)[:300])


def test_the_largest_arguments_allowed_reach_the_program_on_piston(client, user, worker):
    args = [str(i % 10) * MAX_ARG_LENGTH for i in range(MAX_ARGS)]
    response = client.post("/api/v2/execute", headers={"Authorization": user["key"]}, json={
        "language": "python", "version": "*", "args": args,
        "files": [{"content": "import sys\nprint(len(sys.argv) - 1, sum(map(len, sys.argv[1:])))"}]})
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.get_json()["run"]["stdout"] == f"{MAX_ARGS} {MAX_ARGS * MAX_ARG_LENGTH}\n"


@pytest.mark.parametrize("args, reason", [([HUGE_ARG], "too long"), (["a\x00b"], "null")])
def test_a_worker_ends_an_execution_it_cannot_start_without_retrying(app, user, worker, args, reason):
    """As if an older API had let the arguments through: the row goes straight to the worker."""
    from app.extensions import db
    from app.models import Execution
    from app.services import runs

    with app.app_context():
        execution = Execution(user_id=user["id"], language="python", code="print(1)", stdin=b"", args=args,
                              files=[], timeout=5.0, memory_mb=128)
        db.session.add(execution)
        db.session.commit()
        runs.enqueue(execution)
        execution_id = execution.id

        def final_row() -> Execution | None:
            db.session.expire_all()
            row = db.session.get(Execution, execution_id)
            return row if row.status not in ("queued", "running") else None

        row = wait_until(final_row, 20, interval=0.1,
                         what="the execution finished (still not: retried as an infrastructure error?)")
        assert row.status == "internal_error" and reason in row.message.lower(), row.message
        assert "arguments" in row.message
    log = worker["log"].read_text()
    assert f"execution {execution_id}: infrastructure error" not in log
