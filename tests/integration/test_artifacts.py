"""Run artifacts end to end: files a program writes under /work/out/ come back with its result and
are served to their owner only (docs/artifacts.md)."""
from __future__ import annotations

import dataclasses
import time
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.support.batches import grade

PNG_CODE = '''
import struct, zlib

def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

def make_png(width=32, height=16):
    rows = b"".join(b"\\x00" + b"".join(bytes((x * 8 % 256, y * 16 % 256, (x + y) % 256)) for x in range(width))
                    for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9))
            + chunk(b"IEND", b""))
'''

C_CODE = r'''
#include <stdio.h>
int main(void) {
    FILE *f = fopen("/work/out/data.bin", "wb");
    if (!f) { perror("open"); return 1; }
    for (int i = 0; i < 3000; i++) fputc((i * 7 + i / 256) & 0xFF, f);
    fclose(f);
    puts("written");
    return 0;
}
'''
C_BYTES = bytes((i * 7 + i // 256) & 0xFF for i in range(3000))


def expected_png() -> bytes:
    namespace: dict = {}
    exec(PNG_CODE, namespace)
    return namespace["make_png"]()


def fetch(client, url, headers):
    return client.get(url, headers=headers)


def by_name(result) -> dict[str, dict]:
    return {a["name"]: a for a in result["artifacts"]}


def test_a_c_binary_and_a_python_png_come_back_byte_exact(run, client, user):
    result = run("c", C_CODE)
    assert result["status"] == "success", result
    (data,) = result["artifacts"]
    assert data["name"] == "data.bin" and data["size"] == len(C_BYTES) and result["artifacts_note"] is None
    assert data["mime"] == "application/octet-stream"
    response = fetch(client, data["url"], user["headers"])
    assert response.status_code == 200 and response.data == C_BYTES
    assert response.headers["Content-Disposition"].startswith("attachment")

    code = PNG_CODE + ("import os\nos.makedirs('/work/out/plots')\n"
                       "open('/work/out/plots/img.png', 'wb').write(make_png())\n")
    result = run("python", code)
    assert result["status"] == "success", result
    png = by_name(result)["plots/img.png"]
    assert png["mime"] == "image/png" and png["url"].endswith(f"/executions/{result['id']}/artifacts/plots/img.png")
    response = fetch(client, png["url"], user["headers"])
    assert response.status_code == 200 and response.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert response.data == expected_png() and png["size"] == len(response.data)
    assert response.mimetype == "image/png" and "attachment" not in response.headers.get("Content-Disposition", "")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
    # GET of the execution shows them too
    again = client.get(f"/codestudio/executions/{result['id']}", headers=user["headers"]).get_json()
    assert again["artifacts"] == result["artifacts"]


def test_active_content_is_served_as_an_attachment_never_sniffed(run, client, user):
    code = ("open('/work/out/page.html', 'w').write('<script>alert(1)</script>')\n"
            "open('/work/out/pic.svg', 'w').write('<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>')\n"
            "open('/work/out/noext', 'w').write('<html><script>alert(1)</script>')\n")
    result = run("python", code)
    kinds = {a["name"]: a["mime"] for a in result["artifacts"]}
    assert kinds == {"noext": "application/octet-stream", "page.html": "text/html", "pic.svg": "image/svg+xml"}
    for item in result["artifacts"]:
        response = fetch(client, item["url"], user["headers"])
        assert response.status_code == 200 and b"<script>" in response.data
        assert response.mimetype == item["mime"]
        assert response.headers["Content-Disposition"].startswith("attachment")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"


def test_another_users_artifact_is_not_found(run, client, user, make_user):
    result = run("python", "open('/work/out/mine.txt', 'w').write('mine')")
    url = result["artifacts"][0]["url"]
    other = make_user()
    for headers, path in ((other["headers"], url), (user["headers"], url.replace("mine.txt", "missing.txt")),
                          (user["headers"], url.replace(result["id"], uuid.uuid4().hex))):
        response = client.get(path, headers=headers)
        assert response.status_code == 404 and response.get_json()["code"] == "artifact_not_found", path
    assert client.get(url).status_code == 401


def test_caps_on_count_and_size_say_what_was_kept(client, make_user, worker):
    free = make_user("free")

    def run_free(code):
        response = client.post("/codestudio/run", json={"language": "python", "code": code}, headers=free["headers"])
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    many = run_free("for i in range(14):\n    open(f'/work/out/f{i:02}.txt', 'w').write(str(i))\n")
    assert [a["name"] for a in many["artifacts"]] == [f"f{i:02}.txt" for i in range(10)]
    assert many["artifacts_note"] == "kept 10 of 14 files: the free tier keeps at most 10 files per run"
    big = run_free("for n in 'abc':\n    open(f'/work/out/{n}.bin', 'wb').write(b'x' * 400_000)\n")
    assert [a["name"] for a in big["artifacts"]] == ["a.bin", "b.bin"]
    assert big["artifacts_note"] == "kept 2 of 3 files: the free tier keeps at most 1 MB of files per run"


def test_the_storage_quota_counts_artifacts_and_refuses_more(app, client, make_user, worker):
    free = make_user("free")
    code = "open('/work/out/a.bin', 'wb').write(b'a' * 300_000)\n"
    first = client.post("/codestudio/run", json={"language": "python", "code": code}, headers=free["headers"])
    assert [a["size"] for a in first.get_json()["artifacts"]] == [300_000]
    stats = client.get("/codestudio/stats", headers=free["headers"]).get_json()
    assert stats["quota"]["storage_bytes"]["used"] == 300_000
    with app.app_context():  # the rest of the 5 MB quota taken by earlier artifacts
        from app.extensions import db
        from app.models import Artifact, utcnow

        db.session.add(Artifact(execution_id=first.get_json()["id"], user_id=free["id"], name="filler", size=5 << 20,
                                mime="application/octet-stream", sha256="0" * 64, created_at=utcnow(),
                                expires_at=utcnow() + timedelta(hours=1)))
        db.session.commit()
    second = client.post("/codestudio/run", json={"language": "python", "code": code}, headers=free["headers"])
    body = second.get_json()
    assert body["status"] == "success" and body["artifacts"] == []
    assert body["artifacts_note"].startswith("kept 0 of 1 files: your storage quota of 5 MB had 0 KB left")


@pytest.mark.sandbox
def test_links_fifos_and_hard_links_planted_in_out_are_not_collected_and_cost_nothing(run, client, user):
    code = """
import os, time
open('/work/secret.txt', 'w').write('outside out/')
os.symlink('/etc/passwd', '/work/out/passwd')
os.symlink('/work/secret.txt', '/work/out/secret')
os.symlink('/work', '/work/out/work')
os.mkfifo('/work/out/fifo')
open('/work/out/linked.txt', 'w').write('linked')
os.link('/work/out/linked.txt', '/work/out/linked-again.txt')
os.link('/work/secret.txt', '/work/out/secret-link.txt')
open('/work/out/ok.txt', 'w').write('ok')
try:
    with open('/work/out/huge.bin', 'wb') as f:
        f.truncate(10 << 30)
except OSError as exc:  # the jail's file-size limit: EFBIG
    os.remove('/work/out/huge.bin')
    print('sparse refused:', exc.errno)
"""
    started = time.monotonic()
    result = run("python", code)
    elapsed = time.monotonic() - started
    assert result["status"] == "success", result
    assert result["stdout"] == "sparse refused: 27\n"  # see the next test for one planted from outside
    assert [a["name"] for a in result["artifacts"]] == ["ok.txt"]
    assert "entries under /work/out/ were not kept" in result["artifacts_note"]
    assert elapsed < 10, elapsed
    ok = client.get(result["artifacts"][0]["url"], headers=user["headers"])
    assert ok.data == b"ok"


@pytest.mark.sandbox
def test_a_10_gib_sparse_file_planted_in_out_is_refused_by_size_in_no_time(stack_env, monkeypatch):
    """The jail's file-size limit keeps a program from making one; planted from outside (as the jail
    user, in the real run's out/ just before collection), it is refused by its size, never read."""
    import os

    from sandbox import ExecutionStatus, Runner, RunSpec, outputs, registry
    from sandbox.outputs import OutputCaps
    from sandbox.settings import SandboxSettings

    real_collect, timings = outputs.collect, []

    def plant_then_collect(work_path, caps):
        out = work_path / "out"
        owner = os.stat(work_path)
        with open(out / "huge.bin", "wb") as fh:
            fh.truncate(10 << 30)
        os.chown(out / "huge.bin", owner.st_uid, owner.st_gid)
        started = time.monotonic()
        found = real_collect(work_path, caps)
        timings.append(time.monotonic() - started)
        return found

    monkeypatch.setattr(outputs, "collect", plant_then_collect)
    runner = Runner(dataclasses.replace(SandboxSettings.from_env(), warm_compilers=False))
    runner.prepare()
    spec = RunSpec(language=registry().get("python"), code="open('/work/out/small.txt', 'w').write('small')",
                   outputs=OutputCaps(files=10, total_bytes=1 << 20, owner="the free tier"))
    result = runner.run(spec)
    runner.close()
    assert result.status == ExecutionStatus.SUCCESS
    assert [f.name for f in result.outputs.files] == ["small.txt"] and result.outputs.over_size == 1
    assert result.outputs.note() == "kept 1 of 2 files: the free tier keeps at most 1 MB of files per run"
    assert timings and timings[0] < 0.5, timings


def test_expiry_removes_rows_and_blobs(app, run, client, user):
    marker = uuid.uuid4().hex
    result = run("python", f"open('/work/out/old.txt', 'w').write('{marker}')")
    (item,) = result["artifacts"]
    with app.app_context():
        from app.extensions import db
        from app.models import Artifact, utcnow
        from app.services import artifacts

        store = artifacts.blobs()
        assert store.exists(item["sha256"])
        db.session.execute(sa.update(Artifact).where(Artifact.execution_id == result["id"])
                           .values(expires_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
        # past its retention, it is gone from the execution before the expiry pass removes the row
        listed = client.get(f"/codestudio/executions/{result['id']}", headers=user["headers"]).get_json()
        assert listed["artifacts"] == [] and client.get(item["url"], headers=user["headers"]).status_code == 404
        rows, _ = artifacts.expire(store, grace=timedelta(0))
        assert rows >= 1
        assert not store.exists(item["sha256"])
        assert db.session.execute(sa.select(sa.func.count()).select_from(Artifact).where(
            Artifact.execution_id == result["id"])).scalar_one() == 0
    assert client.get(item["url"], headers=user["headers"]).status_code == 404
    again = client.get(f"/codestudio/executions/{result['id']}", headers=user["headers"]).get_json()
    assert again["artifacts"] == []


def test_the_expire_command_removes_expired_artifacts(app, run, client, user):
    result = run("python", f"open('/work/out/cli.txt', 'w').write('{uuid.uuid4().hex}')")
    (item,) = result["artifacts"]
    with app.app_context():
        from app.extensions import db
        from app.models import Artifact, utcnow
        from app.services import artifacts

        db.session.execute(sa.update(Artifact).where(Artifact.execution_id == result["id"])
                           .values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        outcome = app.test_cli_runner().invoke(args=["artifacts", "expire", "--grace-hours", "0"])
        assert outcome.exit_code == 0 and "artifacts expired" in outcome.output, outcome.output
        assert not artifacts.blobs().exists(item["sha256"])
    assert client.get(item["url"], headers=user["headers"]).status_code == 404


def test_a_blob_still_named_by_a_row_survives_expiry(app, run, client, user):
    marker = uuid.uuid4().hex
    code = f"open('/work/out/same.txt', 'w').write('{marker}')"
    first, second = run("python", code), run("python", code)
    assert first["artifacts"][0]["sha256"] == second["artifacts"][0]["sha256"]
    with app.app_context():
        from app.extensions import db
        from app.models import Artifact, utcnow
        from app.services import artifacts

        db.session.execute(sa.update(Artifact).where(Artifact.execution_id == first["id"])
                           .values(expires_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
        artifacts.expire(artifacts.blobs(), grace=timedelta(0))
    assert client.get(first["artifacts"][0]["url"], headers=user["headers"]).status_code == 404
    kept = client.get(second["artifacts"][0]["url"], headers=user["headers"])
    assert kept.status_code == 200 and kept.data == marker.encode()


def test_the_batch_path_collects_each_cases_files(client, user, batch_worker):
    tests = [{"name": "one", "stdin": "1\n", "expected_output": "1\n"},
             {"name": "two", "stdin": "2\n", "expected_output": "2\n"}]
    code = ("import os\nn = input()\nos.makedirs('/work/out/r')\n"
            "open(f'/work/out/r/case{n}.txt', 'w').write(n * 3)\nprint(n)\n")
    body = grade(client, user, language="python", tests=tests, submissions=[{"id": "s", "code": code}])
    (submission,) = body["submissions"]
    results = submission["results"]
    assert [r["verdict"] for r in results] == ["accepted", "accepted"]
    for n, case in zip((1, 2), results, strict=True):
        (item,) = case["artifacts"]
        assert item["name"] == f"r/case{n}.txt" and case["artifacts_note"] is None
        assert f"/batch/{body['id']}/cases/" in item["url"]
        response = client.get(item["url"], headers=user["headers"])
        assert response.status_code == 200 and response.data == str(n).encode() * 3
    assert results[0]["artifacts"][0]["url"] != results[1]["artifacts"][0]["url"]


def test_an_artifact_kept_in_an_s3_bucket_is_served_the_same(app, run, client, user):
    """The API side of the S3 store (moto's server on loopback): the row names a blob in the bucket."""
    import boto3
    from moto.server import ThreadedMotoServer

    from tasks import ports as wiring
    from tasks.artifact_store import S3BlobStore

    result = run("python", "open('/work/out/page.svg', 'w').write('<svg/>')")
    (item,) = result["artifacts"]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    original = wiring.ports()
    try:
        host, port = server.get_host_and_port()
        s3 = boto3.client("s3", endpoint_url=f"http://{host}:{port}", region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
        s3.create_bucket(Bucket="artifacts")
        store = S3BlobStore("artifacts", client=s3)
        content = b"<svg xmlns='http://www.w3.org/2000/svg'>" + uuid.uuid4().hex.encode() + b"</svg>"
        sha = store.put(content)
        with app.app_context():
            from app.extensions import db
            from app.models import Artifact

            db.session.execute(sa.update(Artifact).where(Artifact.execution_id == result["id"])
                               .values(sha256=sha, size=len(content)))
            db.session.commit()
        assert original.artifacts is not None
        wiring.wire(dataclasses.replace(original, artifacts=dataclasses.replace(original.artifacts, blobs=store)))
        response = client.get(item["url"], headers=user["headers"])
        assert response.status_code == 200 and response.data == content
        assert response.mimetype == "image/svg+xml" and response.headers["Content-Disposition"].startswith("attachment")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        store.delete(sha)
        gone = client.get(item["url"], headers=user["headers"])
        assert gone.status_code == 404 and gone.get_json()["code"] == "artifact_not_found"
    finally:
        wiring.wire(original)
        server.stop()


def test_piston_and_judge0_answers_show_no_artifacts(client, user, worker):
    code = "open('/work/out/x.txt', 'w').write('x')\nprint('hi')"
    piston = client.post("/api/v2/execute", headers=user["headers"], json={
        "language": "python", "version": "*", "files": [{"content": code}]})
    assert piston.status_code == 200, piston.get_data(as_text=True)
    assert "artifacts" not in piston.get_data(as_text=True)
    judge0 = client.post("/judge0/submissions?wait=true", headers=user["headers"], json={
        "language_id": 71, "source_code": code})
    assert judge0.status_code in (200, 201), judge0.get_data(as_text=True)
    assert "artifacts" not in judge0.get_data(as_text=True)
