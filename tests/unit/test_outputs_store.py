"""The artifact blob stores (tasks/artifact_store.py): the local directory, and an S3 bucket served
by moto's threaded server on loopback; and what a run keeps under its storage quota (tasks/artifacts.py)."""
from __future__ import annotations

import hashlib
import os
import stat
import time

import pytest

from sandbox.outputs import OutputCaps, OutputFile, Outputs
from tasks.artifact_store import BlobNotFound, LocalBlobStore, S3BlobStore, StoreSettings, blob_store
from tasks.artifacts import keep, mime_of, within_room
from tasks.ports import ArtifactPolicy

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


def check_store(store) -> None:
    sha = store.put(PNG)
    assert sha == hashlib.sha256(PNG).hexdigest()
    assert store.put(PNG) == sha  # the same bytes: the same blob
    assert store.exists(sha) and store.get(sha) == PNG
    with store.open(sha) as fh:
        assert fh.read() == PNG
    other = store.put(b"other")
    listed = dict(store.blobs())
    assert set(listed) == {sha, other} and all(abs(t - time.time()) < 120 for t in listed.values())
    store.delete(sha)
    store.delete(sha)  # nothing there: nothing to do
    assert not store.exists(sha) and set(dict(store.blobs())) == {other}
    with pytest.raises(BlobNotFound):
        store.open(sha)
    for bad in ("../../etc/passwd", "ab" * 40, "A" * 64):
        assert not store.exists(bad)
        with pytest.raises(BlobNotFound):
            store.open(bad)


def test_local_store_is_content_addressed_private_and_atomic(tmp_path):
    store = LocalBlobStore(tmp_path / "artifacts")
    check_store(store)
    sha = store.put(PNG)
    path = tmp_path / "artifacts" / sha[:2] / sha
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert list((tmp_path / "artifacts" / "tmp").iterdir()) == []  # nothing half-written left behind
    old = time.time() - 7200
    os.utime(path, (old, old))
    store.put(PNG)  # written again: fresh again, so the expiry's grace counts from now
    assert path.stat().st_mtime > old + 3600


def test_s3_store_against_motos_server():
    import boto3  # test dependencies (codestudio[test]); in production only codestudio[s3]
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        client = boto3.client("s3", endpoint_url=f"http://{host}:{port}", region_name="us-east-1",
                              aws_access_key_id="test", aws_secret_access_key="test")
        client.create_bucket(Bucket="runs")
        check_store(S3BlobStore("runs", "kept/", client=client))
        assert all(o["Key"].startswith("kept/") for o in client.list_objects_v2(Bucket="runs")["Contents"])
    finally:
        server.stop()


def test_settings_choose_the_store():
    assert isinstance(blob_store(StoreSettings(directory="/tmp/x")), LocalBlobStore)
    with pytest.raises(ValueError, match="ARTIFACT_S3_BUCKET"):
        blob_store(StoreSettings(kind="s3"))
    with pytest.raises(ValueError, match="unknown store"):
        blob_store(StoreSettings(kind="ftp"))


def policy(room: int, quota: int = 5 << 20) -> ArtifactPolicy:
    return ArtifactPolicy(tier="free", files=10, total_bytes=1 << 20, quota_bytes=quota, room_bytes=room)


def test_the_storage_quota_keeps_what_fits_and_says_so():
    files = (OutputFile("a", b"x" * 600), OutputFile("b", b"y" * 600), OutputFile("c", b"z" * 300))
    kept, note = within_room(files, policy(1000))
    assert [f.name for f in kept] == ["a", "c"]
    assert note == ("kept 2 of 3 files: your storage quota of 5 MB had 1 KB left (project files and kept "
                    "artifacts count against it)")
    assert within_room(files, policy(10_000)) == (files, None)


def test_keep_stores_blobs_and_joins_the_notes(tmp_path):
    store = LocalBlobStore(tmp_path)
    outputs = Outputs((OutputFile("plots/a.png", PNG), OutputFile("big.bin", b"b" * 100)), over_count=2,
                      caps=OutputCaps(2, 1 << 20, "the free tier"))
    kept = keep(outputs, policy(len(PNG)), store)
    assert [(f.name, f.size, f.mime) for f in kept.files] == [("plots/a.png", len(PNG), "image/png")]
    assert store.get(kept.files[0].sha256) == PNG
    assert kept.note is not None and kept.note.startswith("kept 2 of 4 files: the free tier keeps at most 2 files")
    assert "; kept 1 of 2 files: your storage quota" in kept.note
    assert keep(outputs, None, store).files == ()


def test_a_store_that_fails_keeps_the_result_and_says_why(tmp_path):
    class Broken(LocalBlobStore):
        def put(self, data: bytes) -> str:
            raise OSError(28, "No space left on device")

    kept = keep(Outputs((OutputFile("a.txt", b"a"),)), policy(1 << 20), Broken(tmp_path))
    assert kept.files == () and kept.note == "the files under /work/out/ could not be stored (OSError)"


@pytest.mark.parametrize("name,mime", [("a.png", "image/png"), ("x.html", "text/html"), ("d.svg", "image/svg+xml"),
                                       ("noext", "application/octet-stream"), ("r.txt", "text/plain")])
def test_mime_by_name(name, mime):
    assert mime_of(name) == mime


def test_a_workers_expiry_runs_now_and_then_and_outlives_a_failure(tmp_path):
    import threading

    from tasks.artifact_expiry import ArtifactExpiry
    from tasks.ports import ArtifactPorts

    calls, enough = [], threading.Event()

    def expire() -> int:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise ConnectionError("database down")  # logged; the next look happens all the same
        enough.set()
        return 0

    expiry = ArtifactExpiry(ArtifactPorts(blobs=LocalBlobStore(tmp_path), expire=expire, expire_interval=0.05))
    expiry.start()
    try:
        assert enough.wait(5) and len(calls) >= 2
    finally:
        expiry.stop()
        expiry.thread.join(2)
    assert not expiry.thread.is_alive()
