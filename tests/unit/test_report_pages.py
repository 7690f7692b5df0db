"""The client behind `codestudio grade` follows every page of a batch's report."""
from __future__ import annotations

from codestudio_client import Client

from tests.support.fake_http import response, serve


def test_the_grade_cli_gathers_every_page_of_the_report(monkeypatch):
    pages = {None: {"status": "done", "tests": ["t"], "max_score": 1, "rows": [{"submission": "a", "score": 1}],
                    "next_cursor": "c1"},
             "c1": {"status": "done", "tests": ["t"], "max_score": 1, "rows": [{"submission": "b", "score": 0}],
                    "next_cursor": None}}
    asked = []

    def answer(method, url, params=None, **kwargs):
        asked.append(params)
        return response(200, pages[params.get("cursor")])

    serve(monkeypatch, answer)
    sheet = Client("http://grader.test", "k").batch_report("b1")
    assert sheet["rows"] == [{"submission": "a", "score": 1}, {"submission": "b", "score": 0}]
    assert "next_cursor" not in sheet and asked == [{"format": "json"}, {"format": "json", "cursor": "c1"}]
