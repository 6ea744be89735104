"""Outbox claims on a real SQLite file and a real PostgreSQL database.

(That two workers never claim the same row is in tests/bot/test_dispatcher.py.)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.locales import DEFAULT_LOCALE
from core.periods import Period
from storage.db import make_engine, session_scope, upgrade
from storage.outbox import (
    AlertPayload,
    DeliveryPayload,
    DigestPayload,
    NewDelivery,
    claim_due,
    decode_payload,
    encode_payload,
    enqueue,
    on_enqueued,
)

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def _enqueue(engine: Engine, *specs: tuple[str, timedelta, bool]) -> None:
    """(key, due in, urgent) per delivery, inserted in this order."""
    with session_scope(engine) as session:
        enqueue(
            session,
            [
                NewDelivery(
                    idempotency_key=key,
                    platform="webhook",
                    address="webhook",
                    payload=AlertPayload(alert_id=index, stage="test"),
                    not_before=NOW + due_in,
                    urgent=urgent,
                )
                for index, (key, due_in, urgent) in enumerate(specs)
            ],
            now=NOW,
        )


def test_a_claim_takes_due_rows_urgent_first_then_oldest_and_marks_them(engine: Engine) -> None:
    _enqueue(
        engine,
        ("late", -timedelta(minutes=1), False),
        ("early", -timedelta(minutes=5), False),
        ("urgent", -timedelta(seconds=1), True),
        ("future", timedelta(minutes=1), True),
    )
    with session_scope(engine) as session:
        claimed = claim_due(session, now=NOW, worker="w1")
    assert [d.idempotency_key for d in claimed] == ["urgent", "early", "late"]
    assert {(d.state, d.claimed_by) for d in claimed} == {("sending", "w1")}
    assert all(d.claimed_at is not None for d in claimed)
    with session_scope(engine) as session:
        assert claim_due(session, now=NOW, worker="w2") == [], "claimed rows are not pending"


def test_a_commit_that_enqueued_calls_back_once_and_a_rollback_does_not(engine: Engine) -> None:
    calls: list[str] = []
    stop = on_enqueued(engine, lambda: calls.append("woken"))
    _enqueue(engine, ("k1", timedelta(0), False), ("k2", timedelta(0), False))
    assert calls == ["woken"], "one call per commit, however many rows"
    _enqueue(engine, ("k1", timedelta(0), False))
    assert calls == ["woken"], "nothing new (the key exists): nothing to claim"
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        enqueue(session, [_new("k3")], now=NOW)
        raise RuntimeError("rolled back")
    assert calls == ["woken"]
    stop()
    _enqueue(engine, ("k4", timedelta(0), False))
    assert calls == ["woken"]


def _new(key: str) -> NewDelivery:
    return NewDelivery(
        idempotency_key=key,
        platform="webhook",
        address="webhook",
        payload=AlertPayload(alert_id=1, stage="test"),
        not_before=NOW,
    )


def test_a_claim_takes_at_most_limit_rows(engine: Engine) -> None:
    # PostgreSQL may run a `LIMIT … FOR UPDATE` subquery of an UPDATE more than once and take
    # more rows than asked; the claim must not.
    _enqueue(engine, *((f"k{n}", timedelta(0), False) for n in range(10)))
    with session_scope(engine) as session:
        first = claim_due(session, now=NOW, worker="w1", limit=6)
    with session_scope(engine) as session:
        rest = claim_due(session, now=NOW, worker="w1", limit=6)
    assert [d.idempotency_key for d in first] == [f"k{n}" for n in range(6)]
    assert [d.idempotency_key for d in rest] == [f"k{n}" for n in range(6, 10)]


def test_a_concurrent_claim_skips_rows_locked_by_another_on_postgres(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        upgrade(engine)
        _enqueue(engine, *((f"k{n}", timedelta(0), False) for n in range(10)))
        with (
            Session(engine, expire_on_commit=False) as first,
            Session(engine, expire_on_commit=False) as second,
        ):
            held = claim_due(first, now=NOW, worker="a", limit=6)  # not committed yet
            taken = claim_due(second, now=NOW, worker="b", limit=10)  # must not wait
            second.commit()
            first.commit()
        assert len(held) == 6 and len(taken) == 4
        assert not {d.id for d in held} & {d.id for d in taken}
    finally:
        engine.dispose()


def test_payloads_round_trip_through_the_column() -> None:
    alert = AlertPayload(alert_id=2**62, stage="2026-10-21:lead-0", level=2, locale="en")
    digest = DigestPayload(
        period=Period(2025, 5),
        as_of=NOW,
        sla_minutes=60,
        targets={"on_time": Decimal("0.95"), "enrollment": Decimal("0.9")},
        department="研发",
        locale=DEFAULT_LOCALE,
    )
    assert decode_payload(encode_payload(alert)) == alert
    assert decode_payload(encode_payload(digest)) == digest
    assert "研发" in encode_payload(digest), "the department is stored readable"


def test_rows_written_before_the_payload_type_still_decode() -> None:
    # The JSON the scan wrote before `DeliveryPayload` existed: batching compares payload text,
    # so the encoding must stay byte for byte what it was.
    stored = '{"type": "alert", "alert_id": 7, "stage": "0", "level": 1, "locale": "en"}'
    payload = AlertPayload(alert_id=7, stage="0", level=1, locale="en")
    assert decode_payload(stored) == payload
    assert encode_payload(payload) == stored
    bare = decode_payload('{"type": "alert", "alert_id": 7, "stage": "soak"}')
    assert bare == AlertPayload(alert_id=7, stage="soak", level=0, locale=DEFAULT_LOCALE)


def test_an_unknown_type_decodes_to_the_base_which_nothing_renders() -> None:
    assert decode_payload('{"type": "newer", "locale": "en"}') == DeliveryPayload(locale="en")


@pytest.mark.parametrize(
    "text",
    ["not json", "[1]", '{"type": "alert"}', '{"type": "alert", "alert_id": "x", "stage": "0"}',
     '{"type": "kpi_digest", "period": "2025-13", "as_of": "2025-06-02", "sla_minutes": 60}'],
)  # fmt: skip
def test_a_malformed_payload_is_a_value_error_naming_it(text: str) -> None:
    with pytest.raises(ValueError, match="delivery payload"):
        decode_payload(text)
