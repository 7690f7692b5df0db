"""The MCP server's pure parts: what a tool call answers (text, structured content, images and
links, tool errors), which key and address a caller's API calls carry, the gate's refusals, and
that the package talks to the API only over HTTP (it imports nothing of app/, tasks/ or sandbox/)."""
from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pytest
from codestudio_client import Execution, NotFound, Unauthorized
from mcp_types import ImageContent, ResourceLink, TextContent
from starlette.datastructures import Headers

from mcp_server.access import RequestKey, bearer_key
from mcp_server.http import NO_KEY, KeyGate, Refusal
from mcp_server.results import bounded, error_result, execution_result, summary
from mcp_server.settings import McpSettings
from tests.unit.test_layering import imports_of

ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 100


def execution(**fields) -> Execution:
    return Execution.from_json({"id": "e1", "status": "success", "stdout": "hi\n", "stderr": "", "returncode": 0,
                                **fields})


def answer(run: Execution, files: dict[str, bytes] | None = None, image_bytes: int = 1000):
    fetched: list[str] = []

    async def fetch(name: str) -> bytes:
        fetched.append(name)
        return (files or {})[name]

    result = asyncio.run(execution_result(run, fetch, "https://cs.example", output_chars=200,
                                          image_bytes=image_bytes))
    return result, fetched


def test_the_package_reaches_the_api_over_http_only():
    for path in (ROOT / "mcp_server").rglob("*.py"):
        bad = {m for m in imports_of(path) if m.split(".")[0] in ("app", "tasks", "sandbox", "flask", "sqlalchemy",
                                                                  "celery", "config")}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_a_finished_run_reads_as_status_exit_code_and_streams():
    result, _ = answer(execution(stdout="hello\n", stderr="warn\n", returncode=3, status="error"))
    text = result.content[0]
    assert isinstance(text, TextContent)
    assert text.text.splitlines()[0] == "status: error, exit code 3 (execution e1)"
    assert "stdout:\nhello\n" in text.text and "stderr:\nwarn\n" in text.text
    assert result.structured_content == {"id": "e1", "status": "error", "stdout": "hello\n", "stderr": "warn\n",
                                         "returncode": 3}
    assert not result.is_error  # the program failed, the tool did not


def test_the_programs_error_is_named_with_its_traceback():
    run = execution(status="error", returncode=1, error={
        "name": "ZeroDivisionError", "message": "division by zero",
        "traceback": "Traceback (most recent call last):\n  File \"main.py\", line 1\nZeroDivisionError"})
    text = summary(run, 200)
    assert "error: ZeroDivisionError: division by zero" in text
    assert 'File "main.py", line 1' in text


def test_long_output_keeps_its_head_and_tail():
    text = "".join(f"line {i}\n" for i in range(10_000))
    cut = bounded(text, 1000)
    assert cut.startswith("line 0\n") and cut.endswith("line 9999\n")
    assert len(cut) < 1100 and "characters left out" in cut
    assert bounded("short", 1000) == "short"


def test_small_images_come_inline_and_other_files_as_links():
    url = "/codestudio/executions/e1/artifacts/"
    run = execution(artifacts=[
        {"name": "plot.png", "size": len(PNG), "mime": "image/png", "url": url + "plot.png"},
        {"name": "big.png", "size": 5000, "mime": "image/png", "url": url + "big.png"},
        {"name": "data.csv", "size": 12, "mime": "text/csv", "url": url + "data.csv"}])
    result, fetched = answer(run, {"plot.png": PNG})
    assert fetched == ["plot.png"]  # the large image is never downloaded
    _, image, big, csv = result.content
    assert isinstance(image, ImageContent) and image.mime_type == "image/png"
    assert base64.b64decode(image.data) == PNG
    assert isinstance(big, ResourceLink) and big.uri == "https://cs.example/codestudio/executions/e1/artifacts/big.png"
    assert isinstance(csv, ResourceLink) and csv.mime_type == "text/csv" and csv.size == 12
    assert "artifacts: plot.png (image/png, 108 B), big.png (image/png, 4.9 KB)" in result.content[0].text


def test_an_image_served_larger_than_listed_is_a_link():
    run = execution(artifacts=[{"name": "a.gif", "size": 10, "mime": "image/gif", "url": "/a"}])
    result, fetched = answer(run, {"a.gif": b"x" * 2000})
    assert fetched == ["a.gif"] and isinstance(result.content[1], ResourceLink)


def test_an_api_error_is_a_tool_error_with_its_code_and_detail():
    error = NotFound(404, "project_not_found", "no project p1", extra={"project_id": "p1"})
    result = error_result(error)
    assert result.is_error
    assert result.content[0].text == "Code Studio API error 404 project_not_found: no project p1"
    assert result.structured_content == {"status": 404, "code": "project_not_found", "detail": "no project p1",
                                         "project_id": "p1"}


@pytest.mark.parametrize("header, key", [
    ("Bearer abc.DEF_123", "abc.DEF_123"), ("bearer  k ", "k"), ("abc", None), ("Bearer", None),
    ("Bearer a b", None), ("Basic dXNlcg==", None), (None, None)])
def test_only_a_bearer_key_is_a_key(header, key):
    assert bearer_key(header) == key


def test_over_the_socket_a_call_carries_the_callers_address_host_and_scheme():
    access = RequestKey(McpSettings(api_socket="/run/api.sock"))
    caller = access.for_request("k", {"host": "cs.example:8443", "x-forwarded-for": "203.0.113.9",
                                      "x-forwarded-proto": "https"})
    assert (caller.key, caller.api_url, caller.public_url) == ("k", "http://cs.example:8443", "https://cs.example:8443")
    assert caller.headers == {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    # a Host that cannot name a URL's authority is never built into one
    assert access.for_request("k", {"host": "evil/path?x"}).api_url == "http://localhost"


def test_without_a_socket_calls_go_to_the_configured_url():
    caller = RequestKey(McpSettings(api_url="https://api.example")).for_request("k", {"host": "other"})
    assert (caller.api_url, caller.public_url, dict(caller.headers)) == ("https://api.example",) * 2 + ({},)


def test_a_refusal_is_a_problem_document():
    response = NO_KEY.response("/mcp")
    assert response.status_code == 401 and response.media_type == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert json.loads(bytes(response.body))["code"] == "unauthorized"
    limited = Refusal(429, "rate_limited", "slow down", 2.4).response("/mcp")
    assert limited.headers["Retry-After"] == "2" and "WWW-Authenticate" not in limited.headers


class CountingApi:
    """Stands in for the SDK client the gate asks: accepts `good`, refuses anything else."""

    def __init__(self, key: str, asked: list[str]):
        self.key, self.asked = key, asked
        self.http = self

    async def aclose(self) -> None:
        pass

    async def check_key(self) -> None:
        self.asked.append(self.key)
        if self.key != "good":
            raise Unauthorized(401, "invalid_api_key", "the API key is not valid", retry_after=50)


def test_the_gate_trusts_an_accepted_key_for_a_while_and_never_a_refused_one(monkeypatch):
    asked: list[str] = []
    now = [0.0]
    access = RequestKey(McpSettings())
    monkeypatch.setattr(access, "client", lambda caller, retry: CountingApi(caller.key, asked))
    gate = KeyGate(lambda *args: None, access, trust_seconds=30, clock=lambda: now[0])

    def check(key: str) -> Refusal | None:
        return asyncio.run(gate.check(key, Headers({})))

    assert check("good") is None and check("good") is None and asked == ["good"]
    now[0] = 31
    assert check("good") is None and asked == ["good", "good"]  # asked again once the trust ran out
    refused = check("bad")
    assert refused == Refusal(401, "unauthorized", "the API key is not valid", 50)
    assert "Retry-After" not in refused.response("/mcp").headers
    assert check("bad") is not None and asked.count("bad") == 2
