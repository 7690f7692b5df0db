"""A run's artifacts, from the files the sandbox collected to the blobs the store's finish records:
the tier's caps were applied while collecting (sandbox/outputs.py); here the owner's storage quota
decides what is kept, and what is kept is written to the blob store before its rows commit."""
from __future__ import annotations

import logging
import mimetypes

from sandbox.outputs import OutputFile, Outputs

from .artifact_store import BlobStore
from .ports import NO_ARTIFACTS, ArtifactPolicy, KeptArtifacts, StoredArtifact, ports

log = logging.getLogger(__name__)

DEFAULT_MIME = "application/octet-stream"


def mime_of(name: str) -> str:
    return mimetypes.guess_type(name, strict=False)[0] or DEFAULT_MIME


def _megabytes(size: int) -> str:
    if size < 1 << 20:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1 << 20):.1f} MB".replace(".0 MB", " MB")


def within_room(files: tuple[OutputFile, ...], policy: ArtifactPolicy) -> tuple[tuple[OutputFile, ...], str | None]:
    """The files that fit in the room the storage quota leaves (in order, while they fit), and a
    note when some do not."""
    kept, room = [], policy.room_bytes
    for item in files:
        if item.size <= room:
            kept.append(item)
            room -= item.size
    if len(kept) == len(files):
        return files, None
    left = max(0, policy.room_bytes)
    return tuple(kept), (f"kept {len(kept)} of {len(files)} files: your storage quota of "
                         f"{_megabytes(policy.quota_bytes)} had {_megabytes(left)} left "
                         "(project files and kept artifacts count against it)")


def keep(outputs: Outputs, policy: ArtifactPolicy | None, blobs: BlobStore | None = None) -> KeptArtifacts:
    """Store what the run may keep; the rows are written by the store's finish, with the result."""
    if policy is None:
        return NO_ARTIFACTS
    if blobs is None:
        wired = ports().artifacts
        if wired is None:
            return NO_ARTIFACTS
        blobs = wired.blobs
    files, quota_note = within_room(outputs.files, policy)
    try:
        stored = tuple(StoredArtifact(f.name, f.size, mime_of(f.name), blobs.put(f.content)) for f in files)
    except Exception as exc:  # the store is down or full: the run's result is kept, its files are not
        log.warning("artifacts not stored: %s", exc)
        stored, quota_note = (), f"the files under /work/out/ could not be stored ({type(exc).__name__})"
    notes = [n for n in (outputs.note(), quota_note) if n]
    return KeptArtifacts(stored, "; ".join(notes) or None)
