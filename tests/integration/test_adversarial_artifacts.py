"""Run artifacts read as an attacker would: names, types and routes of the artifact URL, links and
other users' files planted in or around /work/out/, a tree that changes while it is collected,
processes that outlive the run. Each test states what holds and proves it."""
from __future__ import annotations

import dataclasses
import os
import stat
import time
import unicodedata
from pathlib import Path
from urllib.parse import unquote

import pytest
import requests
import sqlalchemy as sa

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
    runner.close()
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
