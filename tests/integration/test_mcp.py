"""The MCP server end to end, through the SDK's own MCP client: over streamable HTTP at /mcp on the
front (nginx → the MCP process → gunicorn → a worker) and over stdio (`codestudio mcp` spawned with a
key). Tools listed with their schemas, runs in Python and Java, a failing run's error, the project
tools, another user's project invisible, and keys refused before any MCP handling."""
from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
import requests
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, ImageContent, TextContent

ROOT = Path(__file__).resolve().parents[2]
TOOLS = {"run_code", "list_languages", "create_project", "write_file", "read_file", "list_files", "run_project",
         "get_execution"}
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@asynccontextmanager
async def over_http(front, key: str) -> AsyncIterator[ClientSession]:
    async with (create_mcp_http_client(headers={"Authorization": f"Bearer {key}"}) as http,
                streamable_http_client(front.url + "/mcp", http_client=http) as (read, write),
                ClientSession(read, write) as session):
        await session.initialize()
        yield session


@asynccontextmanager
async def over_stdio(front, key: str) -> AsyncIterator[ClientSession]:
    env = {"CODESTUDIO_URL": front.url, "CODESTUDIO_API_KEY": key, "PATH": os.environ["PATH"]}
    server = StdioServerParameters(command=str(ROOT / ".venv" / "bin" / "codestudio"), args=["mcp"], env=env)
    async with stdio_client(server) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


def call(front, key: str, tool: str, arguments: dict[str, Any], connect=over_http) -> CallToolResult:
    async def main() -> CallToolResult:
        async with connect(front, key) as session:
            return await session.call_tool(tool, arguments)

    return anyio.run(main)


def text(result: CallToolResult) -> str:
    first = result.content[0]
    assert isinstance(first, TextContent), result
    return first.text


def ok(result: CallToolResult) -> CallToolResult:
    assert not result.is_error, text(result)
    return result


def test_tools_are_listed_with_their_schemas(front, user):
    async def main():
        async with over_http(front, user["key"]) as session:
            return (await session.list_tools()).tools

    tools = {tool.name: tool for tool in anyio.run(main)}
    assert set(tools) == TOOLS
    run_code = tools["run_code"].input_schema
    assert set(run_code["properties"]) == {"language", "code", "stdin", "files", "args", "timeout"}
    assert set(run_code["required"]) == {"language", "code"}
    assert all(run_code["properties"][name].get("description") for name in run_code["properties"])
    assert set(tools["write_file"].input_schema["required"]) == {"project_id", "path", "content"}
    assert all(tool.description and len(tool.description) > 20 for tool in tools.values())
    assert tools["read_file"].annotations.read_only_hint and not tools["run_code"].annotations.read_only_hint


def test_python_runs_and_answers_its_stdout(front, worker, user):
    result = ok(call(front, user["key"], "run_code", {"language": "python", "code": "print(input() * 2)",
                                                      "stdin": "ab\n"}))
    assert text(result).startswith("status: success, exit code 0")
    assert "stdout:\nabab\n" in text(result)
    assert result.structured_content["stdout"] == "abab\n" and result.structured_content["status"] == "success"


def test_java_runs_and_answers_its_stdout(front, worker, user):
    code = 'public class Main { public static void main(String[] a) { System.out.println("hi from java"); } }'
    result = ok(call(front, user["key"], "run_code", {"language": "java", "code": code, "timeout": 20}))
    assert result.structured_content["stdout"] == "hi from java\n", text(result)


def test_a_failing_run_shows_the_programs_error(front, worker, user):
    result = call(front, user["key"], "run_code", {"language": "python", "code": "x = 1\nprint(x / 0)\n"})
    assert not result.is_error  # the tool worked; the program failed
    assert text(result).startswith("status: error, exit code 1")
    assert "ZeroDivisionError: division by zero" in text(result)
    assert 'line 2' in text(result)


def test_long_output_is_bounded_in_the_text_and_whole_in_the_structured_content(front, worker, user):
    code = "import sys\nfor i in range(20000):\n    print(f'out {i}')\n    print(f'err {i}', file=sys.stderr)\n"
    result = ok(call(front, user["key"], "run_code", {"language": "python", "code": code}))
    summary = text(result)
    assert len(summary) < 2 * 20_000 + 1000 and summary.count("characters left out") == 2
    assert "out 0\n" in summary and "out 19999\n" in summary and "err 19999\n" in summary
    assert result.structured_content["stdout"].count("\n") == 20000


def test_an_api_refusal_is_a_tool_error_with_its_code(front, worker, user):
    result = call(front, user["key"], "run_code", {"language": "cobol-2099", "code": "x"})
    assert result.is_error and "422 unknown_language" in text(result)
    assert result.structured_content["code"] == "unknown_language"


UTIL = "def twice(s):\n    return s * 2\n"
MAIN = "from util import twice\nprint(twice(input()))\n"


def test_project_tools_create_write_list_read_and_run(front, worker, user):
    async def main():
        async with over_http(front, user["key"]) as mcp:
            created = ok(await mcp.call_tool("create_project", {
                "name": f"mcp-{time.monotonic_ns()}", "language": "python", "entry": "main.py",
                "files": [{"name": "util.py", "content": UTIL}]}))
            pid = created.structured_content["id"]
            ok(await mcp.call_tool("write_file", {"project_id": pid, "path": "main.py", "content": MAIN}))
            listed = ok(await mcp.call_tool("list_files", {"project_id": pid}))
            read = ok(await mcp.call_tool("read_file", {"project_id": pid, "path": "util.py"}))
            run = ok(await mcp.call_tool("run_project", {"project_id": pid, "stdin": "ok\n"}))
            again = ok(await mcp.call_tool("get_execution", {"execution_id": run.structured_content["id"]}))
            return listed, read, run, again

    listed, read, run, again = anyio.run(main)
    assert [f["filename"] for f in listed.structured_content["files"]] == ["main.py", "util.py"]
    assert text(listed) == f"main.py ({len(MAIN)} bytes)\nutil.py ({len(UTIL)} bytes)"
    assert text(read) == UTIL
    assert run.structured_content["stdout"] == "okok\n" and run.structured_content["project_id"]
    assert again.structured_content["stdout"] == "okok\n"


def test_another_users_project_and_execution_are_invisible(front, worker, user, make_user):
    other = make_user()
    created = ok(call(front, user["key"], "create_project", {
        "name": f"private-{time.monotonic_ns()}", "language": "python",
        "files": [{"name": "main.py", "content": "print('secret')\n"}]}))
    pid = created.structured_content["id"]
    run = ok(call(front, user["key"], "run_project", {"project_id": pid}))
    for tool, arguments in (("read_file", {"project_id": pid, "path": "main.py"}), ("list_files", {"project_id": pid}),
                            ("run_project", {"project_id": pid}),
                            ("write_file", {"project_id": pid, "path": "main.py", "content": "print(1)"}),
                            ("get_execution", {"execution_id": run.structured_content["id"]})):
        refused = call(front, other["key"], tool, arguments)
        assert refused.is_error and refused.structured_content["status"] == 404, (tool, text(refused))
        assert "secret" not in text(refused)
    # the owner's file is untouched by the other user's attempt to write it
    kept = ok(call(front, user["key"], "read_file", {"project_id": pid, "path": "main.py"}))
    assert text(kept) == "print('secret')\n"


def test_concurrent_calls_each_run_under_their_own_requests_key(front, worker, user, make_user):
    other = make_user()
    mine = ok(call(front, user["key"], "run_code", {"language": "python", "code": "print('mine')"}))
    execution_id = mine.structured_content["id"]
    answers: dict[tuple[str, int], CallToolResult] = {}

    async def ask(session: ClientSession, who: str, n: int) -> None:
        answers[who, n] = await session.call_tool("get_execution", {"execution_id": execution_id})

    async def main():
        async with over_http(front, user["key"]) as owner, over_http(front, other["key"]) as stranger:
            async with anyio.create_task_group() as group:
                for n in range(8):  # interleaved on one MCP process
                    group.start_soon(ask, owner, "owner", n)
                    group.start_soon(ask, stranger, "stranger", n)

    anyio.run(main)
    for (who, _), result in answers.items():
        if who == "owner":
            assert ok(result).structured_content["stdout"] == "mine\n"
        else:
            assert result.is_error and result.structured_content["code"] == "execution_not_found", text(result)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-key"}, {"Authorization": "Basic eDp5"}])
def test_http_without_a_valid_key_is_401_before_any_mcp_handling(front, headers):
    response = requests.post(front.url + "/mcp", json=INITIALIZE, headers={**MCP_HEADERS, **headers}, timeout=10)
    assert response.status_code == 401, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "unauthorized" and "mcp-session-id" not in response.headers


def test_a_revoked_key_stops_working_at_once_though_the_gate_trusted_it(app, front, worker, make_user):
    from app.services.apikeys import revoke_key

    owner = make_user()

    async def main():
        async with over_http(front, owner["key"]) as session:  # the gate has checked the key
            before = await session.call_tool("run_code", {"language": "python", "code": "print(1)"})
            with app.app_context():
                assert revoke_key(owner["key"][:11]) == 1
            return before, await session.call_tool("run_code", {"language": "python", "code": "print(2)"})

    before, after = anyio.run(main)
    assert ok(before).structured_content["stdout"] == "1\n"
    assert after.is_error and after.structured_content["status"] == 401, text(after)


def test_the_sdk_client_with_a_bad_key_fails_to_connect(front):
    async def main():
        async with over_http(front, "not-a-key"):
            pass

    with pytest.raises(BaseExceptionGroup) as refused:  # the SDK raises from its transport's task group
        anyio.run(main)
    assert refused.group_contains(MCPError)


def test_stdio_lists_tools_and_runs_with_the_processs_key(front, worker, user):
    async def main():
        async with over_stdio(front, user["key"]) as session:
            tools = {tool.name for tool in (await session.list_tools()).tools}
            return tools, await session.call_tool("run_code", {"language": "python", "code": "print(6 * 7)"})

    tools, result = anyio.run(main)
    assert tools == TOOLS
    assert ok(result).structured_content["stdout"] == "42\n"


def test_stdio_with_a_bad_key_answers_each_call_with_the_apis_refusal(front):
    result = call(front, "not-a-key", "run_code", {"language": "python", "code": "print(1)"}, connect=over_stdio)
    assert result.is_error
    assert text(result) == "Code Studio API error 401 invalid_api_key: the API key is not valid or has been revoked"


def test_an_image_the_program_writes_comes_back_as_image_content(front, worker, user):
    png = ("import base64, os\nos.makedirs('/work/out', exist_ok=True)\n"
           "open('/work/out/dot.png', 'wb').write(base64.b64decode("
           "'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=='))\n"
           "open('/work/out/notes.txt', 'w').write('hello')\n")
    result = ok(call(front, user["key"], "run_code", {"language": "python", "code": png}))
    images = [block for block in result.content if isinstance(block, ImageContent)]
    assert [image.mime_type for image in images] == ["image/png"], text(result)
    links = [block for block in result.content if block.type == "resource_link"]
    assert [link.name for link in links] == ["notes.txt"]
    assert links[0].uri.startswith(front.url + "/codestudio/executions/")
    served = requests.get(links[0].uri, headers=user["headers"], timeout=10)
    assert served.status_code == 200 and served.content == b"hello"
