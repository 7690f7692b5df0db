"""Judge0 requests at their bounds, through the Flask test client and a real worker: a batch
answers per item as Judge0 does and a refused batch leaves nothing created; page numbers are
bounded; system_info needs a key."""
from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from tests.support.polling import get_json, wait_until


def executions_of(app, user_id: str) -> int:
    from app.extensions import db
    from app.models import Execution

    with app.app_context():
        return db.session.execute(sa.select(sa.func.count()).where(Execution.user_id == user_id)).scalar_one()


def judge0_headers(user: dict) -> dict:
    return {"X-Auth-Token": user["key"]}


def finished(client, headers: dict, token: str, seconds: float = 60) -> dict:
    deadline = time.monotonic() + seconds

    def ended() -> dict | None:
        body = get_json(client, f"/judge0/submissions/{token}", headers, deadline)
        return body if body["status"]["id"] not in (1, 2) else None

    return wait_until(ended, seconds, interval=0.1, what=f"submission {token} finished")


def python(code: str) -> dict:
    return {"source_code": code, "language_id": 71}


def test_a_batch_over_the_concurrency_limit_creates_nothing(app, client, make_user, worker):
    free = make_user("free")  # 2 concurrent executions
    headers = judge0_headers(free)
    refused = client.post("/judge0/submissions/batch", headers=headers,
                          json={"submissions": [python("import time; time.sleep(3)")] * 4})
    assert refused.status_code == 429 and refused.mimetype == "application/json", refused.get_data(as_text=True)
    body = refused.get_json()
    assert body["code"] == "concurrency_limit" and "4 more requested" in body["error"]
    assert body["error"].endswith("the pro tier allows it")  # 4 at once never fit the free tier
    assert executions_of(app, free["id"]) == 0
    assert client.get("/judge0/submissions", headers=headers).get_json()["meta"]["total_count"] == 0

    accepted = client.post("/judge0/submissions/batch", headers=headers,
                           json={"submissions": [python("print(1)"), python("print(2)")]})
    assert accepted.status_code == 201, accepted.get_data(as_text=True)
    outputs = [finished(client, headers, item["token"])["stdout"] for item in accepted.get_json()]
    assert outputs == ["1\n", "2\n"] and executions_of(app, free["id"]) == 2


def test_a_batch_answers_per_item_and_records_only_the_valid_ones(app, client, user, worker):
    headers = judge0_headers(user)
    too_large = "#" * (1100 * 1024)  # over the 1 MiB code limit
    response = client.post("/judge0/submissions/batch", headers=headers, json={"submissions": [
        python("print(1)"), python("print(2)"), python(too_large),
        {**python("print(3)"), "command_line_arguments": "a\x00b"}]})
    assert response.status_code == 201, response.get_data(as_text=True)[:500]
    first, second, third, fourth = response.get_json()
    assert set(first) == set(second) == {"token"}
    assert set(third) == {"source_code"} and "larger than" in third["source_code"][0]
    assert set(fourth) == {"command_line_arguments"}
    assert executions_of(app, user["id"]) == 2
    assert [finished(client, headers, item["token"])["stdout"] for item in (first, second)] == ["1\n", "2\n"]


def test_a_batch_with_no_valid_item_is_a_422_and_creates_nothing(app, client, user, worker):
    response = client.post("/judge0/submissions/batch", headers=judge0_headers(user), json={"submissions": [
        python("#" * (1100 * 1024)), {"source_code": "x", "language_id": 9999}]})
    assert response.status_code == 422
    assert [set(item) for item in response.get_json()] == [{"source_code"}, {"language_id"}]
    assert executions_of(app, user["id"]) == 0


@pytest.mark.parametrize("query", [
    "page=99999999999999999999", "page=0", "page=-1", "page=1.5", "page=x", "page=" + "9" * 5000,
    "per_page=0", "per_page=-5", "per_page=101", "per_page=1e3", "per_page=99999999999999999999",
])
def test_page_numbers_out_of_bounds_are_400s(client, user, query):
    response = client.get(f"/judge0/submissions?{query}", headers=judge0_headers(user))
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/json" and response.get_json()["error"].startswith("invalid ")


def test_the_last_page_in_bounds_answers_empty(client, user):
    response = client.get("/judge0/submissions?page=1000000&per_page=100", headers=judge0_headers(user))
    assert response.status_code == 200 and response.get_json()["submissions"] == []


def test_system_info_needs_a_key(client, user):
    anonymous = client.get("/judge0/system_info")
    assert anonymous.status_code == 401 and anonymous.mimetype == "application/json"
    assert set(anonymous.get_json()) == {"error", "code"}
    known = client.get("/judge0/system_info", headers=judge0_headers(user))
    assert known.status_code == 200 and known.get_json()["CPU(s)"]
