"""Outbox claims on a real SQLite file and a real PostgreSQL database.

(That two workers never claim the same row is in tests/bot/test_dispatcher.py.)
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage.db import make_engine, session_scope, upgrade
from storage.outbox import NewDelivery, claim_due, enqueue

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
                    payload=json.dumps({"text": key}),
                    not_before=NOW + due_in,
                    urgent=urgent,
                )
                for key, due_in, urgent in specs
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
