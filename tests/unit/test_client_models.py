"""The SDK's parsing, without a server: results (fields the API may not send yet tolerated), problem
documents as typed errors, live frames as events, paging and polling (httpx.MockTransport)."""
from __future__ import annotations

import asyncio

import httpx
import pytest
from codestudio_client import (
    ApiError,
    AsyncClient,
    Client,
    ConcurrencyLimited,
    Execution,
    LimitExceeded,
    NotFound,
    QuotaExceeded,
    RateLimited,
    ServerError,
    UnknownLanguage,
    ValidationError,
    WaitTimeout,
)
from codestudio_client.errors import api_error
from codestudio_client.live import Exit, Failed, Output, Stage, event_of, websocket_url


def test_an_execution_with_an_error_and_artifacts():
    execution = Execution.from_json({
        "id": "e1", "status": "error", "language": "python", "stdout": None, "stderr": "Traceback ...",
        "returncode": 1, "execution_time": 0.5, "cpu_time": 0.25, "memory_kb": 9000,
        "truncated": {"stdout": True, "stderr": False}, "future_field": 1,
        "error": {"name": "ValueError", "message": "bad", "traceback": ["line 1", "line 2"]},
        "artifacts": [{"name": "out/plot.png", "size": 10, "mime": "image/png", "sha256": "ab", "url": "/a"}]})
    assert (execution.ok, execution.final, execution.exit_code, execution.stdout) == (False, True, 1, "")
    assert (execution.wall_time, execution.cpu_time, execution.memory_kb) == (0.5, 0.25, 9000)
    assert execution.truncated and execution.truncated.stdout and not execution.truncated.stderr
    assert (execution.error.name, execution.error.message, execution.error.traceback) == (
        "ValueError", "bad", "line 1\nline 2")
    assert [(a.name, a.size, a.mime) for a in execution.artifacts] == [("out/plot.png", 10, "image/png")]
    assert execution.raw["future_field"] == 1


def test_an_execution_without_the_newer_fields():
    execution = Execution.from_json({"id": "e2", "status": "running"})
    assert (execution.error, execution.artifacts, execution.final) == (None, [], False)
    assert not execution.truncated


@pytest.mark.parametrize("status, code, kind, bases", [
    (422, "unknown_language", UnknownLanguage, (ValidationError,)),
    (422, "limit_exceeded", LimitExceeded, (ValidationError,)),
    (429, "daily_quota_exceeded", QuotaExceeded, ()),
    (422, "storage_quota_exceeded", QuotaExceeded, ()),
    (429, "concurrency_limit", ConcurrencyLimited, (RateLimited,)),
    (429, "rate_limited", RateLimited, ()),
    (404, "project_not_found", NotFound, ()),
    (502, "Bad Gateway", ServerError, ()),
    (418, "teapot", ApiError, ()),
])
def test_problems_become_typed_errors(status, code, kind, bases):
    error = api_error(status, "reason", {"code": code, "detail": "d", "limit": "max_timeout", "maximum": 30,
                                         "tier": "free", "upgrade_to": "pro", "errors": None}, "7")
    assert type(error) is kind and all(isinstance(error, base) for base in bases)
    assert (error.status, error.code, error.limit, error.upgrade_to, error.tier, error.retry_after) == (
        status, code, "max_timeout", "pro", "free", 7.0)
    assert error.problem["maximum"] == 30 and error.problem["code"] == code


def test_an_answer_that_is_not_a_problem_document():
    answers = httpx.MockTransport(lambda request: httpx.Response(502, text="<html>bad gateway</html>"))
    with Client("http://api.test", "k", transport=answers) as client, pytest.raises(ServerError) as failed:
        client.languages()
    assert (failed.value.code, failed.value.detail) == ("Bad Gateway", "<html>bad gateway</html>")


def test_live_frames_as_events():
    assert event_of({"type": "accepted", "execution_id": "e"}) is None
    assert event_of({"type": "stdout", "data": "hi", "seq": 3}) == Output("stdout", "hi", 3)
    assert event_of({"type": "stage", "stage": "run", "state": "end", "status": "success", "returncode": 0,
                     "seq": 9}) == Stage("run", "end", "success", 0, 9)
    done = event_of({"type": "exit", "result": {"id": "e", "status": "success", "stdout": "x"}})
    assert isinstance(done, Exit) and done.execution.stdout == "x"
    failed = event_of({"type": "error", "code": "worker_lost", "detail": "lost"})
    assert isinstance(failed, Failed) and failed.error.code == "worker_lost"
    assert websocket_url("https://cs.example/base") == "wss://cs.example/base/codestudio/live"
    assert websocket_url("http://127.0.0.1:8000") == "ws://127.0.0.1:8000/codestudio/live"


def paged(request: httpx.Request) -> httpx.Response:
    pages = {None: ({"id": "a", "status": "success"}, "c1"), "c1": ({"id": "b", "status": "error"}, None)}
    item, cursor = pages[request.url.params.get("cursor")]
    return httpx.Response(200, json={"items": [item], "next_cursor": cursor})


def test_listings_follow_every_page_lazily():
    with Client("http://api.test", "k", transport=httpx.MockTransport(paged)) as client:
        assert [e.id for e in client.list_executions(page_size=1)] == ["a", "b"]

    async def listed():
        async with AsyncClient("http://api.test", "k", transport=httpx.MockTransport(paged)) as client:
            return [e.status async for e in client.list_executions()]

    assert asyncio.run(listed()) == ["success", "error"]


def test_waiting_gives_up_after_its_timeout():
    running = httpx.MockTransport(lambda request: httpx.Response(200, json={"id": "e", "status": "running"}))
    with Client("http://api.test", "k", transport=running) as client, pytest.raises(WaitTimeout):
        client.wait_execution("e", timeout=0)


def test_write_file_creates_a_file_that_is_not_there_yet():
    sent = []

    def files(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        if request.url.path.endswith("/update"):
            return httpx.Response(404, json={"code": "file_not_found", "detail": "no file"})
        return httpx.Response(201, json={"filename": "a.py", "size": 1, "content": "x"})

    with Client("http://api.test", "k", transport=httpx.MockTransport(files)) as client:
        assert client.write_file("p", "a.py", "x").name == "a.py"
    assert sent == ["/codestudio/file/update", "/codestudio/file/create"]
    gone = httpx.MockTransport(lambda request: httpx.Response(404, json={"code": "project_not_found"}))
    with Client("http://api.test", "k", transport=gone) as client, pytest.raises(NotFound):
        client.write_file("p", "a.py", "x")


def test_the_url_and_key_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("CODESTUDIO_URL", "http://env.test/")
    monkeypatch.setenv("CODESTUDIO_API_KEY", "from-env")
    seen = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append((str(request.url), request.headers["Authorization"]))
        return httpx.Response(200, json=[])

    with Client(transport=httpx.MockTransport(record)) as client:
        assert client.languages() == [] and client.url == "http://env.test"
    assert seen == [("http://env.test/codestudio/languages", "Bearer from-env")]
    monkeypatch.delenv("CODESTUDIO_URL")
    assert Client(key="k").url == "http://127.0.0.1:8000"
