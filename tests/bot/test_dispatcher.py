"""The outbox dispatcher against a real loopback receiver: 429, 500s and timeouts.

The clock is injected: the test moves time forward instead of sleeping, and checks that no
send happens before a Retry-After has passed.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from adapters.webhook import WebhookAdapter
from bot.dispatcher import Dispatcher
from handlers.types import Reply
from storage.db import session_scope
from storage.models import Delivery
from storage.outbox import AlertPayload, NewDelivery, enqueue
from tests.fakes.webhook_server import WebhookServer

SECRET = "whsec-test"
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class ManualClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def _render(session: Session, delivery: Delivery) -> Reply:
    return Reply(text=f"message {delivery.idempotency_key}")


def _enqueue(engine: Engine, count: int) -> None:
    with session_scope(engine) as session:
        enqueue(
            session,
            [
                NewDelivery(
                    idempotency_key=f"k{i}",
                    platform="webhook",
                    address="webhook",
                    payload=AlertPayload(alert_id=i, stage="test"),
                    not_before=START,
                )
                for i in range(count)
            ],
            now=START,
        )


def _states(engine: Engine) -> dict[str, str]:
    with session_scope(engine) as session:
        return {d.idempotency_key: d.state for d in session.exec(select(Delivery))}


def test_every_message_arrives_and_retry_after_is_honoured(engine: Engine) -> None:
    clock = ManualClock()
    with WebhookServer(SECRET, clock=lambda: clock().timestamp()) as server:
        adapter = WebhookAdapter(
            server.url,
            SECRET,
            # The hung request times out; 2 s leaves an ordinary send room on a loaded CI
            # machine (at 0.5 s one timed out there and cost a fourth attempt).
            client=httpx.AsyncClient(timeout=2.0),
            clock=lambda: clock().timestamp(),
        )
        dispatcher = Dispatcher(engine, {"webhook": adapter}, _render, worker="w1", clock=clock)
        _enqueue(engine, 3)
        server.answer(429, headers={"Retry-After": "30"})
        server.answer(500)
        server.hang()

        async def scenario() -> None:
            await dispatcher.drain_once()  # 429 on k0; the platform pauses for 30 s
            assert len(server.requests) == 1
            clock.now += timedelta(seconds=29)
            await dispatcher.drain_once()
            assert len(server.requests) == 1, "nothing may be sent before Retry-After"
            for _ in range(40):  # then the 500 and the timeout are retried with backoff
                clock.now += timedelta(seconds=31)
                await dispatcher.drain_once()
                if set(_states(engine).values()) == {"sent"}:
                    break

        asyncio.run(scenario())
        delivered = [r.json()["key"] for r in server.requests if r.signature_ok]
        assert all(r.signature_ok for r in server.requests)
    assert _states(engine) == {"k0": "sent", "k1": "sent", "k2": "sent"}
    # Each key was attempted until it got through; a key is recorded as sent exactly once.
    assert sorted(set(delivered)) == ["k0", "k1", "k2"]
    with session_scope(engine) as session:
        attempts = {d.idempotency_key: d.attempts for d in session.exec(select(Delivery))}
    assert sum(attempts.values()) == 3, "the 429, the 500 and the timeout each cost one attempt"


def test_permanent_error_marks_failed_with_reason(engine: Engine) -> None:
    clock = ManualClock()
    with WebhookServer(SECRET, clock=lambda: clock().timestamp()) as server:
        adapter = WebhookAdapter(server.url, SECRET, clock=lambda: clock().timestamp())
        dispatcher = Dispatcher(engine, {"webhook": adapter}, _render, worker="w1", clock=clock)
        _enqueue(engine, 1)
        server.answer(400)
        asyncio.run(dispatcher.drain_once())
    with session_scope(engine) as session:
        row = session.exec(select(Delivery)).one()
    assert row.state == "failed" and row.last_error


def test_claims_are_exclusive_between_workers(engine: Engine) -> None:
    from storage.outbox import claim_due

    _enqueue(engine, 10)
    with (
        Session(engine, expire_on_commit=False) as first,
        Session(engine, expire_on_commit=False) as second,
    ):
        a = claim_due(first, now=START, worker="a", limit=6)
        first.commit()
        b = claim_due(second, now=START, worker="b", limit=10)
        second.commit()
    assert len(a) == 6 and len(b) == 4
    assert not {d.id for d in a} & {d.id for d in b}
