"""POST /codestudio/run end to end: API -> Redis queue -> real worker -> nsjail -> database."""
import json
import time

import sqlalchemy as sa

from tests.support.polling import wait_until

FIB = """
def fibonacci(n):
    if n <= 1:
        return n
    return fibonacci(n-1) + fibonacci(n-2)

for i in range(10):
    print(f"F({i}) = {fibonacci(i)}")
"""
FIB_OUT = "".join(f"F({i}) = {v}\n" for i, v in enumerate([0, 1, 1, 2, 3, 5, 8, 13, 21, 34]))


def test_seed_example_with_curl_style_form_content_type(client, user, worker):
    response = client.post("/codestudio/run", data=json.dumps({"language": "python", "code": FIB}),
                           content_type="application/x-www-form-urlencoded", headers=user["headers"])
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["status"] == "success", body
    assert body["stdout"] == FIB_OUT
    assert body["stderr"] == ""
    assert body["language"] == "python"
    assert body["returncode"] == 0
    assert 0 < body["execution_time"] < 5
    assert body["cpu_time"] > 0 and body["memory_kb"] > 0
    assert body["truncated"] == {"stdout": False, "stderr": False}
    assert body["created_at"].endswith("Z") or body["created_at"].endswith("+00:00")


def test_javascript_runs_with_alias_stdin_and_args(run):
    body = run("js", "const fs=require('fs');console.log(fs.readFileSync(0,'utf8').trim(), process.argv.slice(2))",
               stdin="from stdin\n", args=["a b", "$HOME", "'; rm -rf /"])
    assert body["status"] == "success", body
    assert body["language"] == "javascript"
    assert body["stdout"] == "from stdin [ 'a b', '$HOME', \"'; rm -rf /\" ]\n"


def test_args_and_stdin_reach_python_exactly(run):
    body = run(code="import sys\nprint(sys.argv[1:])\nprint(repr(sys.stdin.read()))",
               stdin="line1\nline2 ✓", args=["x y", "", "--flag=*"])
    assert body["stdout"] == "['x y', '', '--flag=*']\n'line1\\nline2 ✓'\n"


def test_extra_files_are_importable(run):
    body = run(code="from pkg.util import greet\nprint(greet())",
               files=[{"name": "pkg/__init__.py", "content": ""},
                      {"name": "pkg/util.py", "content": "def greet():\n    return 'hi from util'\n"}])
    assert body["stdout"] == "hi from util\n"


def test_non_zero_exit_is_error_with_stderr(run):
    body = run(code="import sys\nprint('boom', file=sys.stderr)\nsys.exit(3)")
    assert (body["status"], body["returncode"], body["stderr"]) == ("error", 3, "boom\n")


def test_async_run_returns_202_with_location_then_completes(client, user, worker):
    response = client.post("/codestudio/run", json={"language": "python", "code": "print('later')", "wait": False},
                           headers=user["headers"])
    assert response.status_code == 202
    location = response.headers["Location"]
    assert location == f"/codestudio/executions/{response.get_json()['id']}"
    assert response.get_json()["status"] in ("queued", "running", "success")

    def ended() -> dict | None:
        body = client.get(location, headers=user["headers"]).get_json()
        return body if body["status"] not in ("queued", "running") else None

    body = wait_until(ended, 30, interval=0.1, what=f"{location} finished")
    assert body["status"] == "success" and body["stdout"] == "later\n"


def test_each_run_is_recorded_and_billed_once(app, run, user):
    from app.extensions import db
    from app.models import Execution, UsageRecord

    body = run(code="print('bill me')")
    with app.app_context():
        usage = db.session.execute(sa.select(UsageRecord).where(UsageRecord.execution_id == body["id"])).scalars().all()
        row = db.session.get(Execution, body["id"])
        assert len(usage) == 1
        assert usage[0].cpu_seconds == row.cpu_time > 0
        assert usage[0].cost > 0  # pro tier has a price
        assert row.attempts == 1 and row.worker and row.queue_seconds is not None


def test_executions_are_private_and_paginated(client, run, user, make_user):
    ids = [run(code=f"print({i})")["id"] for i in range(3)]
    other = make_user()
    assert client.get(f"/codestudio/executions/{ids[0]}", headers=other["headers"]).status_code == 404
    first = client.get("/codestudio/executions?limit=2", headers=user["headers"]).get_json()
    assert [item["id"] for item in first["items"]] == ids[::-1][:2]
    second = client.get(f"/codestudio/executions?limit=2&cursor={first['next_cursor']}",
                        headers=user["headers"]).get_json()
    assert second["items"][0]["id"] == ids[0]
    assert client.get("/codestudio/executions", headers=other["headers"]).get_json()["items"] == []


def test_languages_list_versions_from_live_workers(client, worker):
    langs = {lang["id"]: lang for lang in client.get("/codestudio/languages").get_json()}
    assert langs["python"]["available"] and langs["python"]["version"].startswith("3.")
    assert langs["javascript"]["available"] and langs["javascript"]["version"].startswith("20.")
    assert "py" in langs["python"]["aliases"] and langs["python"]["extension"] == ".py"


def test_languages_show_the_toolchain_a_live_worker_serves_them_with(app, client):
    """A worker whose image has another toolchain for a language (C# on .NET rather than Mono)
    advertises what the language is there; the list shows that, not the API host's guess."""
    import json

    from tasks import keys

    advertised = ("Dart (SDK image)", "3.5.4", True)  # what the list must show
    heartbeat = {"hostname": "sdk-image@test", "languages": {"dart": "3.5.4"}, "batch_languages": {},
                 "queues": ["lang.dart"], "names": {"dart": "Dart (SDK image)"}, "pid": 1}
    app.extensions["redis"].set(keys.worker_key("sdk-image@test"), json.dumps(heartbeat), ex=30)
    try:
        def listed_dart() -> dict | None:  # the list is cached for a second
            dart = {lang["id"]: lang for lang in client.get("/codestudio/languages").get_json()}["dart"]
            return dart if (dart["name"], dart["version"], dart["available"]) == advertised else None

        dart = wait_until(listed_dart, 5, interval=0.1, what="the list showing the advertised dart")
        assert (dart["name"], dart["version"], dart["available"]) == ("Dart (SDK image)", "3.5.4", True)
    finally:
        app.extensions["redis"].delete(keys.worker_key("sdk-image@test"))


def test_stats_totals_by_language_and_status(client, run, make_user):
    fresh = make_user()
    run(code="print(1)", headers=fresh["headers"])
    run(code="raise SystemExit(2)", headers=fresh["headers"])
    run("js", "console.log(1)", headers=fresh["headers"])
    stats = client.get("/codestudio/stats", headers=fresh["headers"]).get_json()
    assert stats["executions"] == 3 and stats["tier"] == "pro"
    assert stats["by_language"]["python"]["executions"] == 2
    assert stats["by_status"] == {**stats["by_status"], "success": stats["by_status"]["success"]}
    assert stats["by_status"]["success"]["executions"] == 2 and stats["by_status"]["error"]["executions"] == 1
    assert stats["success_rate"] == round(2 / 3, 4)
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert stats["by_day"] == {today: {**stats["by_day"][today], "executions": 3}}
    assert stats["quota"]["executions_today"] == {"used": 3, "limit": 5000, "remaining": 4997}
    assert stats["quota"]["concurrent"]["limit"] == 8 and stats["quota"]["storage_bytes"]["used"] == 0


def test_health_and_readiness(client, worker):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").get_json() == {"status": "ready"}


def test_openapi_document_describes_auth_and_problem_errors(client):
    spec = client.get("/codestudio/openapi.json").get_json()
    assert "/codestudio/run" in spec["paths"] and "/codestudio/executions/{execution_id}" in spec["paths"]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    unauthorized = spec["components"]["responses"]["UNAUTHORIZED"]["content"]
    assert unauthorized["application/problem+json"]["schema"]["$ref"].endswith("/Problem")
    assert spec["components"]["schemas"]["Problem"]["properties"]["code"]["type"] == "string"
    assert spec["paths"]["/codestudio/languages"]["get"]["security"] == []


def test_prometheus_metrics_report_queues_workers_and_active_runs(client, worker):
    text = client.get("/metrics").get_data(as_text=True)
    assert 'codestudio_queue_depth{queue="lang.python"}' in text
    assert 'codestudio_queue_depth{queue="batch.python"}' in text
    assert 'codestudio_live_workers{kind="interactive",language="python"} 1.0' in text
    assert 'codestudio_executions_active{status="queued"}' in text
    assert 'codestudio_batches_active{status="running"}' in text
