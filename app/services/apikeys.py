"""API keys: random, shown once, stored as SHA-256 digests."""
from __future__ import annotations

import hashlib
import secrets

import sqlalchemy as sa

from ..dml import rows_changed
from ..extensions import db
from ..models import ApiKey, User, utcnow

KEY_PREFIX = "cs_"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue_key(user: User) -> str:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    db.session.add(ApiKey(user=user, prefix=key[:11], key_hash=digest(key)))
    return key


def user_for_key(key: str) -> User | None:
    return db.session.execute(
        sa.select(User).join(ApiKey).where(ApiKey.key_hash == digest(key), ApiKey.revoked_at.is_(None))
    ).scalar_one_or_none()


def create_user(email: str, tier: str) -> tuple[User, str]:
    user = User(email=email.strip().lower(), tier=tier)
    db.session.add(user)
    key = issue_key(user)
    db.session.commit()
    return user, key


def revoke_key(prefix: str) -> int:
    rows = rows_changed(
        sa.update(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None)).values(revoked_at=utcnow())
    )
    db.session.commit()
    return rows
