"""API tokens: shown once, stored as a hash, scoped, revoked at once. SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text

from storage.api_tokens import (
    TokenError,
    authenticate,
    create_token,
    list_tokens,
    parse_scopes,
    revoke_token,
)
from storage.db import session_scope

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def test_a_token_authenticates_with_its_scopes_until_revoked(engine: Engine) -> None:
    with session_scope(engine) as session:
        token = create_token(session, "erp", ["read", "payments:write"], now=NOW)
    with session_scope(engine) as session:
        credential = authenticate(session, token)
        assert credential is not None
        assert (credential.name, credential.scopes) == ("erp", {"payments:write", "read"})
        revoke_token(session, "erp", now=NOW)
    with session_scope(engine) as session:
        assert authenticate(session, token) is None
        assert [(t.name, t.revoked_at is not None) for t in list_tokens(session)] == [("erp", True)]


def test_only_a_hash_of_the_secret_is_stored(engine: Engine) -> None:
    with session_scope(engine) as session:
        token = create_token(session, "erp", ["read"], now=NOW)
    secret = token.split("_", 2)[2]  # cw_<lookup>_<secret>: the secret itself may hold '_'
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT * FROM api_token")).one()
    assert secret not in " ".join(map(str, stored))


def test_wrong_secrets_and_strangers_are_refused(engine: Engine) -> None:
    with session_scope(engine) as session:
        token = create_token(session, "erp", ["read"], now=NOW)
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    with session_scope(engine) as session:
        for presented in (
            forged,
            "cw_000000000000_" + token[-43:],
            "",
            "Bearer " + token,
            "x" * 5000,
        ):
            assert authenticate(session, presented) is None


def test_names_and_scopes_are_checked(engine: Engine) -> None:
    with session_scope(engine) as session:
        create_token(session, "erp", ["read"], now=NOW)
    for name, scopes, message in [
        ("erp", ["read"], "a token named 'erp' exists"),
        ("has space", ["read"], "bad token name 'has space'"),
        ("hr", ["write"], "unknown scope write (expected payments:write, balances:write, "),
        ("hr", [""], "unknown scope (none given)"),
    ]:
        expected = re.escape(message)
        with pytest.raises(TokenError, match=expected), session_scope(engine) as session:
            create_token(session, name, scopes, now=NOW)
    with pytest.raises(TokenError, match="no token named 'nobody'"), session_scope(engine) as s:
        revoke_token(s, "nobody", now=NOW)
    assert parse_scopes(" read , employees:write") == ("employees:write", "read")
