"""Rate limits and quotas per tier: refusals name the limit and tier; parallel requests never
exceed a quota (the per-user lock holds on SQLite and on PostgreSQL)."""
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from tests.support.polling import wait_until


def execution_count(app, user_id):
    from app.extensions import db
    from app.models import Execution

    with app.app_context():
        return db.session.execute(sa.select(sa.func.count()).where(Execution.user_id == user_id)).scalar_one()


def test_rate_limit_is_per_caller_with_headers_and_a_problem(client, make_user, tier):
    caller = make_user(tier("rl-three", requests_per_minute=3))
    for expected_remaining in (2, 1, 0):
        ok = client.get("/codestudio/executions", headers=caller["headers"])
        assert ok.status_code == 200 and ok.headers["X-RateLimit-Limit"] == "3"
        assert ok.headers["X-RateLimit-Remaining"] == str(expected_remaining)
        assert "Retry-After" not in ok.headers  # nothing was refused: nothing to wait for
    refused = client.get("/codestudio/stats", headers=caller["headers"])
    assert refused.status_code == 429 and refused.mimetype == "application/problem+json"
    body = refused.get_json()
    assert (body["code"], body["limit"], body["tier"]) == ("rate_limited", "requests_per_minute", "rl-three")
    assert int(refused.headers["Retry-After"]) > 0
    other = make_user()  # another caller is not affected
    assert client.get("/codestudio/executions", headers=other["headers"]).status_code == 200


def test_parallel_requests_never_exceed_the_daily_quota(app, make_user, tier, worker):
    caller = make_user(tier("five-a-day", executions_per_day=5, concurrent_executions=100))

    def submit(_):
        with app.test_client() as client:
            return client.post("/codestudio/run", json={"language": "python", "code": "print(1)", "wait": False},
                               headers=caller["headers"])

    with ThreadPoolExecutor(12) as pool:
        responses = list(pool.map(submit, range(12)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [202] * 5 + [429] * 7, [r.get_json() for r in responses]
    refusal = next(r for r in responses if r.status_code == 429)
    body = refusal.get_json()
    assert (body["code"], body["limit"], body["maximum"], body["tier"]) == (
        "daily_quota_exceeded", "executions_per_day", 5, "five-a-day")
    assert body["upgrade_to"] == "free" and int(refusal.headers["Retry-After"]) > 0
    assert execution_count(app, caller["id"]) == 5


def test_parallel_requests_never_exceed_the_concurrency_limit(app, make_user, tier, worker):
    caller = make_user(tier("two-at-once", concurrent_executions=2))

    def submit(_):
        with app.test_client() as client:
            return client.post("/codestudio/run", json={"language": "python", "code": "import time; time.sleep(2)",
                                                        "wait": False}, headers=caller["headers"])

    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(submit, range(6)))
    accepted = [r.get_json()["id"] for r in responses if r.status_code == 202]
    refused = [r for r in responses if r.status_code == 429]
    assert len(accepted) == 2 and len(refused) == 4
    assert {r.get_json()["code"] for r in refused} == {"concurrency_limit"}
    # its own wait (a slot frees soon), not the request limiter's window
    assert {r.headers["Retry-After"] for r in refused} == {"1"}
    with app.test_client() as client:  # once they finish, the slots are free again
        wait_until(lambda: not any(client.get(f"/codestudio/executions/{i}", headers=caller["headers"]).get_json()
                                   ["status"] in ("queued", "running") for i in accepted),
                   30, interval=0.2, what="both runs finished")
        again = client.post("/codestudio/run", json={"language": "python", "code": "print(1)", "wait": False},
                            headers=caller["headers"])
        assert again.status_code == 202


def test_parallel_file_writes_never_exceed_the_storage_quota(app, make_user, tier):
    caller = make_user(tier("one-megabyte", storage_mb=1, max_file_kb=1024))
    with app.test_client() as client:
        project = client.post("/codestudio/project/create", json={"name": "quota"}, headers=caller["headers"])
    project_id = project.get_json()["id"]

    def write(i):
        with app.test_client() as client:
            return client.post("/codestudio/file/create", headers=caller["headers"], json={
                "project_id": project_id, "filename": f"blob{i}.txt", "content": "x" * 300_000})

    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(write, range(6)))
    assert sorted(r.status_code for r in responses) == [201] * 3 + [422] * 3, [r.get_json() for r in responses]
    refused = next(r.get_json() for r in responses if r.status_code == 422)
    assert (refused["code"], refused["limit"], refused["tier"]) == ("storage_quota_exceeded", "storage_mb",
                                                                   "one-megabyte")


def test_rate_limit_refusal_names_the_next_tier_up(client, make_user):
    caller = make_user("free")
    for _ in range(30):
        client.get("/codestudio/executions", headers=caller["headers"])
    body = client.get("/codestudio/executions", headers=caller["headers"]).get_json()
    assert (body["code"], body["tier"], body["maximum"], body["upgrade_to"]) == ("rate_limited", "free", 30, "pro")
