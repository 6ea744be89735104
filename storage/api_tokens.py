"""API tokens: created once and shown once, kept only as a hash, revoked by name.

A token reads `cw_<lookup>_<secret>`. `lookup` (public, 12 hex digits) finds the row; the
secret (256 random bits) is stored as its SHA-256. A slow password hash buys nothing here: it
defends low-entropy secrets against guessing, and 256 random bits cannot be guessed (the same
reasoning as GitHub's token storage). The hashes are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.models import ApiToken

SCOPES = ("payments:write", "balances:write", "employees:write", "read")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_TOKEN_RE = re.compile(r"^cw_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


class TokenError(ValueError):
    """A request the operator can fix (bad name or scope, unknown name); the message says how."""


@dataclass(frozen=True)
class Credential:
    """Who a valid token says the caller is: the name goes into the audit log."""

    id: int
    name: str
    scopes: frozenset[str]


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_scopes(text: str) -> tuple[str, ...]:
    """`payments:write,read` → the scopes in contract order; raises `TokenError` on an unknown."""
    wanted = {part.strip() for part in text.split(",") if part.strip()}
    unknown = sorted(wanted - set(SCOPES))
    if unknown or not wanted:
        raise TokenError(
            f"unknown scope {', '.join(unknown) or '(none given)'} (expected {', '.join(SCOPES)})"
        )
    return tuple(scope for scope in SCOPES if scope in wanted)


def create_token(session: Session, name: str, scopes: Iterable[str], *, now: datetime) -> str:
    """Store a new token and return it: the only time it is ever seen in clear."""
    if not _NAME_RE.match(name):
        raise TokenError(f"bad token name {name!r} (letters, digits, '.', '_', '-'; at most 64)")
    if session.exec(select(ApiToken).where(ApiToken.name == name)).first() is not None:
        raise TokenError(f"a token named {name!r} exists (revoked tokens keep their name)")
    lookup, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            name=name,
            lookup=lookup,
            secret_hash=_hash(secret),
            scopes=",".join(parse_scopes(",".join(scopes))),
            created_at=now,
        )
    )
    try:
        session.flush()
    except IntegrityError:  # the same name created concurrently
        raise TokenError(f"a token named {name!r} exists") from None
    return f"cw_{lookup}_{secret}"


def list_tokens(session: Session) -> Sequence[ApiToken]:
    return session.exec(select(ApiToken).order_by(col(ApiToken.name))).all()


def revoke_token(session: Session, name: str, *, now: datetime) -> None:
    """Revoke at once: the next request with it is 401. Raises `TokenError` for an unknown name;
    revoking twice keeps the first revocation time."""
    token = session.exec(select(ApiToken).where(ApiToken.name == name)).first()
    if token is None:
        raise TokenError(f"no token named {name!r}")
    if token.revoked_at is None:
        token.revoked_at = now
        session.add(token)


def authenticate(session: Session, presented: str) -> Credential | None:
    """The credential of a live token, or None (malformed, unknown, wrong secret or revoked)."""
    match = _TOKEN_RE.match(presented)
    if match is None:
        return None
    token = session.exec(select(ApiToken).where(ApiToken.lookup == match[1])).first()
    if token is None or token.id is None or token.revoked_at is not None:
        return None
    if not hmac.compare_digest(token.secret_hash, _hash(match[2])):
        return None
    return Credential(id=token.id, name=token.name, scopes=frozenset(token.scopes.split(",")))
