"""Where run artifacts' bytes live: a content-addressed store (the key is the sha256 of the bytes,
so two runs writing the same file share one blob). A local directory by default, any
S3-compatible bucket as an option (boto3: `pip install codestudio[s3]`).

Rows name blobs (app/models.py Artifact); a blob no row names is removed by the expiry
(app/services/artifacts.py) once it is older than a grace period, so a blob written just before
the row that names it commits is never taken for an orphan."""
from __future__ import annotations

import hashlib
import os
import re
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

SHA256 = re.compile(r"[0-9a-f]{64}")


class BlobNotFound(LookupError):
    pass


class BlobStore(Protocol):
    def put(self, data: bytes) -> str:
        """Store the bytes (once: a blob already there is only marked fresh); their sha256."""

    def open(self, sha256: str) -> BinaryIO:
        """The blob for reading; BlobNotFound if there is none."""

    def get(self, sha256: str) -> bytes: ...

    def exists(self, sha256: str) -> bool: ...

    def delete(self, sha256: str) -> None:
        """Remove the blob (nothing if there is none)."""

    def blobs(self) -> Iterator[tuple[str, float]]:
        """(sha256, when it was last written, as a Unix time) of every blob."""


def checked(sha256: str) -> str:
    """A key is a sha256 in hex, nothing else: it becomes a path or an object key."""
    if not SHA256.fullmatch(sha256):
        raise BlobNotFound(sha256)
    return sha256


class LocalBlobStore:
    """root/<2 hex>/<sha256>, files 0600 in 0700 directories, written to root/tmp/ then renamed
    into place (a reader never sees a half-written blob)."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def _dir(self, path: Path) -> Path:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        return path

    def _path(self, sha256: str) -> Path:
        return self.root / checked(sha256)[:2] / sha256

    def put(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        target = self._path(sha)
        if target.exists():
            os.utime(target)  # fresh again: the expiry's grace counts from now
            return sha
        self._dir(self.root)
        temp = self._dir(self.root / "tmp") / secrets.token_hex(16)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.replace(temp, self._dir(target.parent) / sha)
        except OSError:
            temp.unlink(missing_ok=True)
            raise
        return sha

    def open(self, sha256: str) -> BinaryIO:
        try:
            return open(self._path(sha256), "rb")
        except FileNotFoundError:
            raise BlobNotFound(sha256) from None

    def get(self, sha256: str) -> bytes:
        with self.open(sha256) as fh:
            return fh.read()

    def exists(self, sha256: str) -> bool:
        try:
            return self._path(sha256).is_file()
        except BlobNotFound:
            return False

    def delete(self, sha256: str) -> None:
        self._path(sha256).unlink(missing_ok=True)

    def blobs(self) -> Iterator[tuple[str, float]]:
        if not self.root.is_dir():
            return
        for sub in sorted(self.root.iterdir()):
            if len(sub.name) != 2 or not sub.is_dir():
                continue  # tmp/ and anything else
            for blob in sub.iterdir():
                if SHA256.fullmatch(blob.name):
                    try:
                        yield blob.name, blob.stat().st_mtime
                    except FileNotFoundError:
                        continue


class S3BlobStore:
    """An S3-compatible bucket, one object per blob under `prefix`; credentials as boto3 finds
    them (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, an instance role, ...)."""

    def __init__(self, bucket: str, prefix: str = "artifacts/", endpoint_url: str | None = None,
                 region: str | None = None, client: Any = None):
        if client is None:
            import boto3  # an optional dependency: codestudio[s3]

            client = boto3.client("s3", endpoint_url=endpoint_url or None, region_name=region or None)
        self.client, self.bucket, self.prefix = client, bucket, prefix

    def _key(self, sha256: str) -> str:
        return self.prefix + checked(sha256)

    def put(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        # written again when present: that marks it fresh (LastModified), as the local store does
        self.client.put_object(Bucket=self.bucket, Key=self._key(sha), Body=data,
                               ContentType="application/octet-stream")
        return sha

    def open(self, sha256: str) -> BinaryIO:
        try:
            body: BinaryIO = self.client.get_object(Bucket=self.bucket, Key=self._key(sha256))["Body"]
        except self.client.exceptions.NoSuchKey:
            raise BlobNotFound(sha256) from None
        return body

    def get(self, sha256: str) -> bytes:
        return self.open(sha256).read()

    def exists(self, sha256: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(sha256))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        except BlobNotFound:
            return False
        return True

    def delete(self, sha256: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(sha256))

    def blobs(self) -> Iterator[tuple[str, float]]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
        for page in pages:
            for item in page.get("Contents", ()):
                sha = item["Key"][len(self.prefix):]
                if SHA256.fullmatch(sha):
                    yield sha, item["LastModified"].timestamp()


@dataclass(frozen=True)
class StoreSettings:
    kind: str = "local"  # local | s3
    directory: str = "artifacts"
    bucket: str = ""
    prefix: str = "artifacts/"
    endpoint_url: str = ""
    region: str = ""

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> StoreSettings:
        return cls(kind=config.get("ARTIFACT_STORE", "local"), directory=config["ARTIFACT_DIR"],
                   bucket=config.get("ARTIFACT_S3_BUCKET", ""), prefix=config.get("ARTIFACT_S3_PREFIX", "artifacts/"),
                   endpoint_url=config.get("ARTIFACT_S3_ENDPOINT_URL", ""), region=config.get("ARTIFACT_S3_REGION", ""))


def blob_store(settings: StoreSettings) -> BlobStore:
    if settings.kind == "s3":
        if not settings.bucket:
            raise ValueError("ARTIFACT_STORE=s3 needs ARTIFACT_S3_BUCKET")
        return S3BlobStore(settings.bucket, settings.prefix, settings.endpoint_url, settings.region)
    if settings.kind != "local":
        raise ValueError(f"ARTIFACT_STORE: unknown store {settings.kind!r} (local or s3)")
    return LocalBlobStore(Path(settings.directory))
