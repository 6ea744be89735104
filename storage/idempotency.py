"""Idempotency keys of API writes: a retried request gets the first answer, nothing is written
twice. Keys belong to one token (two clients may pick the same key), and the first answer is
stored in the write's own transaction, so a crash leaves either both or neither.

As in Stripe's and the IETF draft's design (draft-ietf-httpapi-idempotency-key-header): the
same key with a different request is refused rather than replayed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session, col, select

from storage.models import ApiIdempotency

MAX_KEY_LENGTH = 200
RETENTION = timedelta(days=7)
"""How long a key is remembered (housekeeping prunes older ones): retries come within hours."""


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    body: str
    same_request: bool
    """False: the key was first used for another request (method, path or body differ)."""


def request_hash(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256(f"{method} {path}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def stored_answer(
    session: Session, token_id: int, key: str, fingerprint: str
) -> StoredAnswer | None:
    row = session.exec(
        select(ApiIdempotency).where(ApiIdempotency.token_id == token_id, ApiIdempotency.key == key)
    ).first()
    if row is None:
        return None
    return StoredAnswer(row.status, row.response, row.request_hash == fingerprint)


def store_answer(
    session: Session,
    token_id: int,
    key: str,
    fingerprint: str,
    *,
    status: int,
    body: str,
    now: datetime,
) -> None:
    """Add the answer to the session's transaction; a concurrent twin fails on the unique key."""
    session.add(
        ApiIdempotency(
            token_id=token_id,
            key=key,
            request_hash=fingerprint,
            status=status,
            response=body,
            created_at=now,
        )
    )
    session.flush()


def forget_before(session: Session, cutoff: datetime) -> int:
    """Drop keys older than `cutoff` (housekeeping); returns how many."""
    result = session.execute(delete(ApiIdempotency).where(col(ApiIdempotency.created_at) < cutoff))
    return int(result.rowcount)  # type: ignore[attr-defined]
