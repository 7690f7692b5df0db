"""Batch grading through the API, a real batch worker, nsjail and the database."""
from __future__ import annotations

import csv
import io
import time

import pytest
import sqlalchemy as sa

from tests.support.batches import SUM_TESTS, grade, post_batch, verdicts, wait_batch, wait_progress
from tests.support.polling import wait_until


def _verdicts(client, user, batch_id) -> list[str]:
    body = client.get(f"/codestudio/batch/{batch_id}", headers=user["headers"]).get_json()
    return [r["verdict"] for s in body["submissions"] for r in s["results"]]


def _settled(client, user, batch_id) -> dict | None:
    """The batch once none of its cases is running or still queued and all are counted (a
    submission claimed while its batch was cancelled gets its cases made `cancelled` a moment
    after the cancel, and a stopped run is counted as its worker records it)."""
    body = client.get(f"/codestudio/batch/{batch_id}", headers=user["headers"]).get_json()
    pending = ("running", "queued")
    if any(r["verdict"] in pending for s in body["submissions"] for r in s["results"]):
        return None
    return body if body["progress"]["done"] == body["progress"]["total"] else None


def test_python_batch_verdicts_scores_and_reports(app, client, user, batch_worker):
    submissions = [
        {"id": "right", "code": "a, b = map(int, input().split())\nprint(a + b)"},
        {"id": "wrong", "code": "a, b = map(int, input().split())\nprint(a - b if a > 0 else a + b)"},
        {"id": "crash", "code": "a, b = map(int, input().split())\nprint(a + b if a > 0 else a // (b - 2))"},
        {"id": "slow", "code": "a, b = map(int, input().split())\nif a > 100:\n    while True: pass\nprint(a + b)"},
        {"id": "greedy", "code": "x = bytearray(400 << 20)\nprint(len(x))"},
        {"id": "chatty", "code": "import sys\nsys.stdout.write('x' * (3 << 20))"},
    ]
    body = grade(client, user, language="py", tests=SUM_TESTS, submissions=submissions,
                 limits={"timeout": 2, "memory_mb": 128})
    assert body["status"] == "done" and body["progress"] == {"done": 18, "total": 18, "cancelled": 0,
                                                             "percent": 100.0}
    assert verdicts(body) == {
        "right": ["accepted"] * 3,
        "wrong": ["wrong_answer", "accepted", "wrong_answer"],
        "crash": ["accepted", "runtime_error", "accepted"],
        "slow": ["accepted", "accepted", "timeout"],
        "greedy": ["memory_limit"] * 3,
        "chatty": ["output_limit"] * 3,
    }
    by_id = {s["id"]: s for s in body["submissions"]}
    assert [by_id[k]["score"] for k in ("right", "wrong", "crash", "slow", "greedy")] == [6, 2, 4, 3, 0]
    assert by_id["right"]["max_score"] == 6 and body["max_score"] == 6
    wrong = by_id["wrong"]["results"][0]
    assert wrong["diff"].splitlines()[:2] == ["--- expected", "+++ got"]
    assert "-3" in wrong["diff"] and "+-1" in wrong["diff"]
    assert wrong["stdout"] == "-1\n" and wrong["time"] is not None and wrong["memory_kb"] > 0
    assert "ZeroDivisionError" in by_id["crash"]["results"][1]["stderr"]
    assert by_id["right"]["compile"]["status"] is None  # nothing to compile for Python

    report = client.get(f"/codestudio/batch/{body['id']}/report.csv", headers=user["headers"])
    assert report.status_code == 200 and report.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(report.get_data(as_text=True))))
    assert rows[0] == ["submission", "status", "compile", "small", "negative", "large", "score", "max_score"]
    assert rows[1] == ["right", "done", "", "accepted", "accepted", "accepted", "6", "6"]
    assert rows[2][:6] == ["wrong", "done", "", "wrong_answer", "accepted", "wrong_answer"] and rows[2][6] == "2"
    sheet = client.get(f"/codestudio/batch/{body['id']}/report.csv?format=json", headers=user["headers"]).get_json()
    assert sheet["tests"] == ["small", "negative", "large"] and sheet["max_score"] == 6
    assert sheet["rows"][3] == {"submission": "slow", "status": "done", "compile": None, "score": 3,
                                "verdicts": {"small": "accepted", "negative": "accepted", "large": "timeout"}}

    with app.app_context():  # one usage record per run, nothing for compiling Python
        from app.extensions import db
        from app.models import BatchCase, UsageRecord

        cases = db.session.execute(sa.select(BatchCase.id).where(BatchCase.batch_id == body["id"])).scalars().all()
        billed = db.session.execute(sa.select(UsageRecord.batch_case_id).where(
            UsageRecord.batch_case_id.in_(cases))).scalars().all()
        assert sorted(billed) == sorted(cases)
    stats = client.get("/codestudio/stats", headers=user["headers"]).get_json()
    assert stats["executions"] == 18 and stats["by_language"]["python"]["executions"] == 18
    assert stats["quota"]["executions_today"]["used"] == 18


def test_java_compiles_once_per_submission(app, client, user, batch_worker):
    good = ("import java.util.*;\npublic class Sum { public static void main(String[] x) {\n"
            "  Scanner in = new Scanner(System.in); long a = in.nextLong(), b = in.nextLong();\n"
            "  System.out.println(a + b); } }")
    helper_main = ("public class Main { public static void main(String[] x) {\n"
                   "  java.util.Scanner in = new java.util.Scanner(System.in);\n"
                   "  System.out.println(Adder.add(in.nextLong(), in.nextLong())); } }")
    submissions = [
        {"id": "good", "code": good},
        {"id": "broken", "code": "public class Main { public static void main(String[] x) { int y = } }"},
        {"id": "two-files", "files": [{"name": "Main.java", "content": helper_main},
                                      {"name": "Adder.java", "content": "class Adder { static long add(long a, long b)"
                                                                        " { return a + b; } }"}]},
    ]
    body = grade(client, user, language="java", tests=SUM_TESTS, submissions=submissions)
    assert verdicts(body) == {"good": ["accepted"] * 3, "broken": ["compile_error"] * 3,
                              "two-files": ["accepted"] * 3}
    by_id = {s["id"]: s for s in body["submissions"]}
    assert by_id["broken"]["status"] == "compile_error" and by_id["broken"]["score"] == 0
    assert by_id["broken"]["compile"]["status"] == "compile_error" and "error" in by_id["broken"]["compile"]["output"]
    assert by_id["good"]["compile"]["status"] == "success" and by_id["good"]["compile"]["time"] > 0
    with app.app_context():
        from app.extensions import db
        from app.models import BatchSubmission, UsageRecord

        rows = db.session.execute(sa.select(BatchSubmission.ref, BatchSubmission.compiles, BatchSubmission.id)
                                  .where(BatchSubmission.batch_id == body["id"])).all()
        assert {ref: compiles for ref, compiles, _ in rows} == {"good": 1, "broken": 1, "two-files": 1}
        kinds = db.session.execute(sa.select(UsageRecord.kind, sa.func.count()).where(
            UsageRecord.user_id == user["id"]).group_by(UsageRecord.kind)).all()
        assert dict(kinds) == {"compile": 3, "run": 6}  # compile_error tests are not runs


def test_comparison_modes_through_the_service(client, user, batch_worker):
    code = "import sys\nsys.stdout.buffer.write(sys.stdin.buffer.read())"
    cases = [("crlf", "1\r\n2\r\n", "1\n2\n"), ("no-newline", "42", "42\n"), ("trailing", "a  \nb\t\n\n\n", "a\nb"),
             ("empty", "", ""), ("unicode", "héllo 世界 🙂\n", "héllo 世界 🙂\n"),
             ("floats", "0.1000001 2e3\n", "0.1 2000\n")]
    tests = [{"name": n, "stdin": given, "expected_output": want} for n, given, want in cases]
    expected = {
        "trim": ["accepted", "accepted", "accepted", "accepted", "accepted", "wrong_answer"],
        "exact": ["wrong_answer", "wrong_answer", "wrong_answer", "accepted", "accepted", "wrong_answer"],
        "tokens": ["accepted", "accepted", "accepted", "accepted", "accepted", "wrong_answer"],
        "float": ["accepted", "accepted", "accepted", "accepted", "accepted", "accepted"],
    }
    for mode, want in expected.items():
        body = grade(client, user, language="python", tests=tests, compare=mode, abs_tol=1e-5,
                     submissions=[{"id": "echo", "code": code}])
        assert verdicts(body)["echo"] == want, mode


@pytest.mark.parametrize("payload, status, code, where", [
    ({"tests": [], "submissions": [{"id": "a", "code": "x"}]}, 422, "validation_error", "tests"),
    ({"tests": SUM_TESTS, "submissions": [{"id": "a"}]}, 422, "validation_error", "submissions"),
    ({"tests": SUM_TESTS + SUM_TESTS[:1], "submissions": [{"id": "a", "code": "x"}]}, 422, "validation_error",
     "tests"),
    ({"tests": SUM_TESTS, "submissions": [{"id": "a", "code": "x"}, {"id": "a", "code": "y"}]}, 422,
     "validation_error", "submissions"),
    ({"tests": [{"name": "t", "stdin": ""}], "submissions": [{"id": "a", "code": "x"}]}, 422, "validation_error",
     "tests"),
    ({"tests": SUM_TESTS, "submissions": [{"id": "a", "code": "x"}], "compare": "fuzzy"}, 422, "validation_error",
     "compare"),
    ({"tests": SUM_TESTS, "submissions": [{"id": "a", "code": "x", "files": [{"name": "../x", "content": ""}]}]},
     422, "validation_error", "submissions"),
    ({"tests": SUM_TESTS, "submissions": [{"id": "a", "code": "x"}], "language": "cobol-85"}, 422,
     "unknown_language", None),
    ({"tests": SUM_TESTS, "submissions": [{"id": "a", "code": "x"}], "limits": {"timeout": 500}}, 422,
     "limit_exceeded", None),
    ({"tests": [{"name": f"t{i}", "expected_output": "", "limits": {"timeout": 25}} for i in range(40)],
      "submissions": [{"id": "a", "code": "x"}]}, 422, "batch_too_slow", None),
    ({"tests": [{"name": "t", "stdin": "x" * (2 << 20), "expected_output": ""}],
      "submissions": [{"id": "a", "code": "x"}]}, 413, "stdin_too_large", None),
])
def test_bad_batches_are_refused_clearly(client, user, batch_worker, payload, status, code, where):
    response = client.post("/codestudio/batch", json={"language": "python", **payload}, headers=user["headers"])
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["code"] == code
    if where:
        assert where in body["errors"], body


def test_batches_are_private_and_need_a_key(client, user, make_user, batch_worker):
    batch_id = post_batch(client, user, language="python", tests=SUM_TESTS[:1],
                          submissions=[{"id": "a", "code": "print(3)"}]).get_json()["id"]
    other = make_user()
    for method, path in (("get", ""), ("delete", ""), ("get", "/report.csv"), ("get", "/report?format=json")):
        response = getattr(client, method)(f"/codestudio/batch/{batch_id}{path}", headers=other["headers"])
        assert (response.status_code, response.get_json()["code"]) == (404, "batch_not_found")
    assert client.get(f"/codestudio/batch/{batch_id}").status_code == 401
    assert wait_batch(client, user, batch_id)["status"] == "done"


def test_quota_is_checked_up_front(client, make_user, batch_worker):
    free = make_user("free")  # 200 runs a day, 200 runs per batch
    submissions = [{"id": f"s{i}", "code": "print(3)"} for i in range(70)]
    response = post_batch(client, free, expect=422, language="python", tests=SUM_TESTS, submissions=submissions)
    body = response.get_json()  # 210 runs can never fit one free batch
    assert (body["code"], body["limit"], body["maximum"], body["upgrade_to"]) == (
        "batch_too_large", "batch_max_runs", 200, "pro")
    first = post_batch(client, free, language="python", tests=SUM_TESTS, submissions=submissions[:60]).get_json()
    body = post_batch(client, free, expect=429, language="python", tests=SUM_TESTS,
                      submissions=submissions[:1]).get_json()
    assert body["code"] == "concurrency_limit" and body["limit"] == "concurrent_batches"
    assert wait_batch(client, free, first["id"], every=1.5)["progress"]["done"] == 180
    response = post_batch(client, free, expect=429, language="python", tests=SUM_TESTS, submissions=submissions[:7])
    body = response.get_json()  # 180 used: 21 more runs do not fit in 200
    assert body["code"] == "daily_quota_exceeded" and "21 runs and 20 are left" in body["detail"]
    assert int(response.headers["Retry-After"]) > 0
    post_batch(client, free, language="python", tests=SUM_TESTS[:1], submissions=submissions[:20])


def test_cancel_stops_what_has_not_run(app, client, user, batch_worker):
    code = "import time\ntime.sleep(0.5)\nprint(3)"
    submissions = [{"id": f"s{i}", "code": code} for i in range(6)]
    batch_id = post_batch(client, user, language="python", tests=SUM_TESTS, submissions=submissions).get_json()["id"]
    wait_progress(client, user, batch_id, 1)
    cancelled = client.delete(f"/codestudio/batch/{batch_id}", headers=user["headers"])
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    assert cancelled.get_json()["progress"]["cancelled"] >= 6
    # runs in progress at the cancel are stopped and recorded; nothing else starts
    body = wait_until(lambda: _settled(client, user, batch_id), 30, interval=0.1, what="the stopped runs recorded")
    assert body["status"] == "cancelled" and body["progress"]["done"] == body["progress"]["total"] == 18
    ran = [r for s in body["submissions"] for r in s["results"] if r["verdict"] != "cancelled"]
    assert len(ran) + body["progress"]["cancelled"] == 18 and all(r["verdict"] in ("accepted", "stopped") for r in ran)
    with app.app_context():
        from app.extensions import db
        from app.models import BatchCase, UsageRecord

        billed = db.session.execute(sa.select(sa.func.count()).select_from(UsageRecord).join(BatchCase).where(
            BatchCase.batch_id == batch_id)).scalar_one()
        assert billed == len(ran)
    again = client.delete(f"/codestudio/batch/{batch_id}", headers=user["headers"])
    assert again.status_code == 200 and again.get_json()["progress"] == body["progress"]


def test_a_finished_batch_cannot_be_cancelled(client, user, batch_worker):
    body = grade(client, user, language="python", tests=SUM_TESTS[:1], submissions=[{"id": "a", "code": "print(3)"}])
    response = client.delete(f"/codestudio/batch/{body['id']}", headers=user["headers"])
    assert (response.status_code, response.get_json()["code"]) == (409, "batch_finished")


def test_interactive_runs_are_not_queued_behind_a_batch(client, user, batch_worker, worker):
    """Batch work has its own queues and workers: a run waits for nobody's batch."""
    code = "import time\ntime.sleep(1)\nprint(3)"
    batch_id = post_batch(client, user, language="python", tests=SUM_TESTS,
                          submissions=[{"id": f"s{i}", "code": code} for i in range(8)]).get_json()["id"]
    wait_until(lambda: "running" in _verdicts(client, user, batch_id), 30, what="the batch running")
    started = time.monotonic()
    response = client.post("/codestudio/run", json={"language": "python", "code": "print(7)"}, headers=user["headers"])
    elapsed = time.monotonic() - started
    assert response.status_code == 200 and response.get_json()["stdout"] == "7\n"
    assert elapsed < 3, elapsed  # the batch still has ~10 s of work queued
    progress = client.get(f"/codestudio/batch/{batch_id}", headers=user["headers"]).get_json()["progress"]
    assert progress["done"] < progress["total"]
    client.delete(f"/codestudio/batch/{batch_id}", headers=user["headers"])
