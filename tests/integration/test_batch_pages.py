"""A batch's results come in bounded pages (with a cursor) and its counts are always complete
(tests/unit/test_report_pages.py: the client following the pages of the report)."""
from __future__ import annotations

from tests.support.batches import SUM_TESTS, grade, post_batch

SUM = "a, b = map(int, input().split())\nprint(a + b)"


def _pages(client, user, path: str, **params) -> list[dict]:
    pages, cursor = [], None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        page = client.get(path, query_string=query, headers=user["headers"])
        assert page.status_code == 200, page.get_data(as_text=True)
        pages.append(page.get_json())
        cursor = pages[-1]["next_cursor"]
        if cursor is None:
            return pages


def test_results_are_paged_and_counts_complete(client, user, batch_worker):
    submissions = [{"id": f"s{i:02}", "code": SUM if i % 3 else "print(0)"} for i in range(25)]
    body = grade(client, user, language="python", tests=SUM_TESTS, submissions=submissions)
    assert len(body["submissions"]) == 20 and body["next_cursor"]  # the default page
    assert body["verdicts"] == {"accepted": 48, "wrong_answer": 27}  # all 75 cases, whatever the page
    assert body["progress"]["done"] == body["progress"]["total"] == 75

    pages = _pages(client, user, f"/codestudio/batch/{body['id']}", limit=10)
    assert [len(p["submissions"]) for p in pages] == [10, 10, 5]
    assert [s["id"] for p in pages for s in p["submissions"]] == [s["id"] for s in submissions]
    assert all(p["verdicts"] == body["verdicts"] and len(s["results"]) == 3 for p in pages for s in p["submissions"])

    sheets = _pages(client, user, f"/codestudio/batch/{body['id']}/report", format="json", limit=7)
    assert [len(p["rows"]) for p in sheets] == [7, 7, 7, 4]
    assert [r["submission"] for p in sheets for r in p["rows"]] == [s["id"] for s in submissions]

    bad = client.get(f"/codestudio/batch/{body['id']}?cursor=not-a-cursor", headers=user["headers"])
    assert (bad.status_code, bad.mimetype, bad.get_json()["code"]) == (422, "application/problem+json",
                                                                       "invalid_cursor")


def test_a_page_holds_at_most_a_thousand_results(client, user, batch_worker):
    tests = [{"name": f"t{i}", "stdin": "1 2\n", "expected_output": "3\n", "limits": {"timeout": 1}}
             for i in range(200)]
    batch_id = post_batch(client, user, language="python", tests=tests,
                          submissions=[{"id": f"s{i}", "code": SUM} for i in range(12)]).get_json()["id"]
    try:
        page = client.get(f"/codestudio/batch/{batch_id}?limit=100", headers=user["headers"]).get_json()
        assert len(page["submissions"]) == 5 and page["next_cursor"]  # 5 x 200 results
        assert sum(page["verdicts"].values()) == 2400
    finally:
        client.delete(f"/codestudio/batch/{batch_id}", headers=user["headers"])
    # the last submission never started: every one of its tests reads `cancelled`, in the view and the report
    last = _pages(client, user, f"/codestudio/batch/{batch_id}", limit=100)[-1]["submissions"][-1]
    assert last["id"] == "s11" and [r["verdict"] for r in last["results"]] == ["cancelled"] * 200
    rows = client.get(f"/codestudio/batch/{batch_id}/report?format=json", headers=user["headers"]).get_json()["rows"]
    assert rows[-1]["verdicts"] == {f"t{i}": "cancelled" for i in range(200)}
