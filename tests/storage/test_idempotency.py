"""Idempotency keys: the first answer per (token, key), refused for another request, pruned
after `RETENTION`. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from storage.api_tokens import authenticate, create_token
from storage.db import session_scope
from storage.idempotency import (
    RETENTION,
    StoredAnswer,
    forget_before,
    request_hash,
    store_answer,
    stored_answer,
)

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def _token(engine: Engine, name: str) -> int:
    with session_scope(engine) as session:
        credential = authenticate(session, create_token(session, name, ["read"], now=NOW))
        assert credential is not None
        return credential.id


def test_a_key_keeps_its_first_answer_per_token(engine: Engine) -> None:
    erp, bank = _token(engine, "erp"), _token(engine, "bank")
    first = request_hash("POST", "/api/v1/payments", b"[1]")
    with session_scope(engine) as session:
        store_answer(session, erp, "k", first, status=200, body='{"rows": 1}', now=NOW)

    with session_scope(engine) as session:
        assert stored_answer(session, erp, "k", first) == StoredAnswer(200, '{"rows": 1}', True)
        other = request_hash("POST", "/api/v1/payments", b"[2]")
        assert stored_answer(session, erp, "k", other) == StoredAnswer(200, '{"rows": 1}', False)
        assert stored_answer(session, bank, "k", first) is None
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        store_answer(session, erp, "k", first, status=200, body="{}", now=NOW)


def test_old_keys_are_forgotten(engine: Engine) -> None:
    erp = _token(engine, "erp")
    with session_scope(engine) as session:
        store_answer(session, erp, "old", "h", status=200, body="{}", now=NOW - RETENTION)
        store_answer(session, erp, "new", "h", status=200, body="{}", now=NOW)

    with session_scope(engine) as session:
        assert forget_before(session, NOW - RETENTION / 2) == 1
    with session_scope(engine) as session:
        assert stored_answer(session, erp, "old", "h") is None
        assert stored_answer(session, erp, "new", "h") is not None
