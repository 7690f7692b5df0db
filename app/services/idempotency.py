"""Idempotency-Key: a retried request answers with what the first one created, never a second run.

A key belongs to one user. Its row is written in the same transaction as the execution or batch it
names, and the unique (user_id, key) constraint decides a race: the loser's transaction (its quota
reservation with it) is rolled back and it answers with the winner's row. A key reused for another
request (another body, or another endpoint: the scope) is refused. Keys older than the retention
(IDEMPOTENCY_RETENTION_HOURS) are ignored and replaced; the user's next keyed request removes them,
and so does a sweep every few minutes (sweep_now_and_then)."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import current_app, request
from sqlalchemy.exc import DBAPIError, IntegrityError

from ..dml import rows_changed
from ..errors import Problem
from ..extensions import db
from ..models import Batch, Execution, IdempotencyKey, utcnow

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
REPLAYED = {REPLAYED_HEADER: "true"}
MAX_KEY_LENGTH = 255
T = TypeVar("T")


class Scope(StrEnum):
    """The endpoint a key was first used on: a key sent to another one is a different request."""
    RUN = "run"
    RUN_STREAM = "run-stream"  # POST /codestudio/run as an event stream (a live run)
    BATCH = "batch"
    LIVE = "live"


def parse_key(value: str | None) -> str | None:
    """The key as sent (None: no key); 1 to 255 printable ASCII characters, else a 422."""
    if value is None:
        return None
    if not (0 < len(value) <= MAX_KEY_LENGTH and all(" " <= ch <= "~" for ch in value)):
        raise Problem(422, "invalid_idempotency_key", f"{HEADER} is 1 to {MAX_KEY_LENGTH} printable ASCII "
                      "characters")
    return value


def header_key() -> str | None:
    return parse_key(request.headers.get(HEADER))


def canonical(body: Any) -> str:
    """The validated body as JSON with sorted keys (dataclasses as their fields; Decimals as text)."""
    return json.dumps(_plain(body), sort_keys=True, separators=(",", ":"), default=str)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def request_hash(scope: Scope, body: Any) -> str:
    return hashlib.sha256(f"{scope.value}\n{canonical(body)}".encode()).hexdigest()


def retention() -> timedelta:
    return timedelta(hours=current_app.config["IDEMPOTENCY_RETENTION_HOURS"])


@dataclass(frozen=True)
class Prior:
    """What the key's first request created."""
    execution_id: str | None
    batch_id: str | None


@dataclass(frozen=True)
class Claim:
    """One keyed request: its user, key, scope and the hash of its validated body."""
    user_id: int
    key: str
    scope: Scope
    request_hash: str

    def prior(self) -> Prior | None:
        """The live row of this key, if any; a 422 when it was made by another request."""
        row = db.session.execute(sa.select(IdempotencyKey).where(
            IdempotencyKey.user_id == self.user_id, IdempotencyKey.key == self.key,
            IdempotencyKey.expires_at > utcnow())).scalar_one_or_none()
        if row is None:
            return None
        if row.scope != self.scope or row.request_hash != self.request_hash:
            raise Problem(422, "idempotency_key_reused", f"this {HEADER} was sent with another request "
                          f"(endpoint {row.scope}, another body); use a new key for a new request")
        return Prior(row.execution_id, row.batch_id)

    def record(self, execution: Execution | None = None, batch: Batch | None = None) -> None:
        """Adds the key's row, naming `execution` or `batch`, to the open transaction that records
        it. This user's expired keys go first: an expired key may be used again."""
        db.session.flush()  # the row it names is written (and has its id) first: the foreign key
        now = utcnow()
        db.session.execute(sa.delete(IdempotencyKey).where(
            IdempotencyKey.user_id == self.user_id, IdempotencyKey.expires_at <= now))
        db.session.add(IdempotencyKey(user_id=self.user_id, key=self.key, scope=self.scope.value,
                                      request_hash=self.request_hash,
                                      execution_id=execution.id if execution is not None else None,
                                      batch_id=batch.id if batch is not None else None,
                                      created_at=now, expires_at=now + retention()))

    def release(self) -> None:
        """Forgets the key: what it created could not be sent on, and a retry should try again."""
        db.session.rollback()
        db.session.execute(sa.delete(IdempotencyKey).where(
            IdempotencyKey.user_id == self.user_id, IdempotencyKey.key == self.key,
            IdempotencyKey.request_hash == self.request_hash))
        db.session.commit()

    def once(self, create: Callable[[], T], replay: Callable[[Prior], T]) -> tuple[T, bool]:
        """(create()'s result, False), or (replay(prior), True) when the key already named something:
        before create(), or because a concurrent request with this key committed first (create()
        then fails on the unique key or on a quota that the winner's reservation filled)."""
        prior = self.prior()
        if prior is not None:
            return replay(prior), True
        try:
            created = create()
        except (IntegrityError, Problem):
            db.session.rollback()  # the reservation goes with it
            prior = self.prior()
            if prior is None:
                raise
            return replay(prior), True
        sweep_now_and_then()
        return created, False


def claim(user_id: int, key: str | None, scope: Scope, body: Any) -> Claim | None:
    """The request's claim on its key; None without a key (the request is not idempotent)."""
    if key is None:
        return None
    return Claim(user_id, key, scope, request_hash(scope, body))


SWEEP_INTERVAL_SECONDS = 600.0
SWEEP_ROWS = 1000
_sweep = {"last": float("-inf")}
_sweep_lock = threading.Lock()


def sweep_now_and_then() -> None:
    """Every SWEEP_INTERVAL_SECONDS per process, a new key deletes expired keys of every user (a
    user's own go with their next key; this catches users who stopped sending keys)."""
    with _sweep_lock:
        if time.monotonic() - _sweep["last"] < SWEEP_INTERVAL_SECONDS:
            return
        _sweep["last"] = time.monotonic()
    try:
        expire_keys(SWEEP_ROWS)
    except DBAPIError as exc:  # another process sweeping the same rows, the database away: next time
        db.session.rollback()
        log.warning("could not delete expired idempotency keys: %s", exc)


def expire_keys(limit: int) -> int:
    """Deletes at most `limit` expired keys, oldest first; how many went."""
    oldest = sa.select(IdempotencyKey.id).where(IdempotencyKey.expires_at <= utcnow()).order_by(
        IdempotencyKey.expires_at).limit(limit)
    gone = rows_changed(sa.delete(IdempotencyKey).where(IdempotencyKey.id.in_(oldest))
                        .execution_options(synchronize_session=False))
    db.session.commit()
    return gone
