"""Concurrent sends: lanes keep one recipient's messages apart and in order.

`lanes` is checked on its own; the dispatcher is then driven against a recording adapter that
tracks what is in flight (no network, a few milliseconds per send).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import cast

from sqlalchemy.engine import Engine
from sqlmodel import select

from adapters.base import DeliveryError, RateLimit, Sender
from bot.dispatcher import Dispatcher
from bot.lanes import lanes
from handlers.types import Recipient, Reply
from storage.db import session_scope
from storage.models import Delivery
from storage.outbox import AlertPayload, NewDelivery, enqueue


def _row(row_id: int, address: str, platform: str = "slack") -> Delivery:
    return Delivery(
        id=row_id,
        idempotency_key=f"k{row_id}",
        platform=platform,
        address=address,
        payload="{}",
        next_attempt_at=datetime(2026, 11, 25, tzinfo=UTC),
        created_at=datetime(2026, 11, 25, tzinfo=UTC),
    )


def _ids(result: list[list[list[Delivery]]]) -> list[list[list[int | None]]]:
    return [[[d.id for d in unit] for unit in lane] for lane in result]


def test_lanes_split_by_recipient_and_keep_claim_order() -> None:
    a1, b1, a2, c1, b2 = _row(1, "A"), _row(2, "B"), _row(3, "A"), _row(4, "C"), _row(5, "B")
    other_platform = _row(6, "A", platform="wecom")
    result = lanes([[a1], [b1], [a2], [c1], [b2], [other_platform]])
    assert _ids(result) == [[[1], [3]], [[2], [5]], [[4]], [[6]]]


def test_a_batch_joins_the_lanes_of_its_recipients_in_claim_order() -> None:
    a1, b1, c1 = _row(1, "A"), _row(2, "B"), _row(3, "C")
    batch = [_row(4, "A"), _row(5, "B")]  # one message to A and B (bot/batching.py)
    b2, d1 = _row(6, "B"), _row(7, "D")
    result = lanes([[a1], [b1], [c1], batch, [b2], [d1]])
    assert _ids(result) == [[[1], [2], [4, 5], [6]], [[3]], [[7]]]


class RecordingAdapter:
    """Counts sends in flight, overall and per recipient; `refuse` answers one 429 per address."""

    name = "slack"

    def __init__(self, rate_limits: tuple[RateLimit, ...] = ()) -> None:
        self.rate_limits = rate_limits
        self.in_flight: dict[str, int] = {}
        self.most_at_once = 0
        self.most_to_one = 0
        self.sent: list[tuple[str, str, float]] = []
        self.refuse: dict[str, float] = {}

    async def send(self, recipient: Recipient, reply: Reply, *, key: str) -> str:
        address = recipient.address
        if address in self.refuse:
            raise DeliveryError("slack: ratelimited", retry_after=self.refuse.pop(address))
        self.in_flight[address] = self.in_flight.get(address, 0) + 1
        self.most_at_once = max(self.most_at_once, sum(self.in_flight.values()))
        self.most_to_one = max(self.most_to_one, self.in_flight[address])
        await asyncio.sleep(0.005)
        self.in_flight[address] -= 1
        self.sent.append((address, key, time.monotonic()))
        return f"{address}:{key}"


def _render(session: object, delivery: Delivery) -> Reply:
    return Reply(text=delivery.idempotency_key)


def _enqueue(engine: Engine, addresses: list[str]) -> list[str]:
    keys = [f"k{n:03d}" for n in range(len(addresses))]
    now = datetime.now(UTC)
    items = [
        NewDelivery(
            idempotency_key=key,
            platform="slack",
            address=address,
            is_group=True,
            payload=AlertPayload(alert_id=int(key[1:]), stage="test"),
            not_before=now,
        )
        for key, address in zip(keys, addresses, strict=True)
    ]
    with session_scope(engine) as session:
        enqueue(session, items, now=now)
    return keys


def _states(engine: Engine) -> dict[str, str]:
    with session_scope(engine) as session:
        return {d.idempotency_key: d.state for d in session.exec(select(Delivery))}


def test_sends_to_different_recipients_overlap_but_never_to_one(engine: Engine) -> None:
    addresses = [f"C{n % 12:02d}" for n in range(36)]  # three messages to each of 12 channels
    keys = _enqueue(engine, addresses)
    adapter = RecordingAdapter()
    dispatcher = Dispatcher(engine, {"slack": cast(Sender, adapter)}, _render, worker="w")

    assert asyncio.run(dispatcher.drain_once()) == 36

    assert set(_states(engine).values()) == {"sent"}
    assert 1 < adapter.most_at_once <= dispatcher.concurrency
    assert adapter.most_to_one == 1
    for channel in set(addresses):
        mine = [key for key, address in zip(keys, addresses, strict=True) if address == channel]
        assert [key for address, key, _ in adapter.sent if address == channel] == mine


def test_a_recipient_that_frees_soon_is_waited_for_in_the_same_pass(engine: Engine) -> None:
    _enqueue(engine, ["A", "A", "B"])
    adapter = RecordingAdapter((RateLimit(scope="recipient", count=1, seconds=0.2),))
    dispatcher = Dispatcher(engine, {"slack": cast(Sender, adapter)}, _render, worker="w")

    asyncio.run(dispatcher.drain_once())

    assert set(_states(engine).values()) == {"sent"}, "held, not handed back to the outbox"
    to_a = [at for address, _, at in adapter.sent if address == "A"]
    assert to_a[1] - to_a[0] >= 0.2


def test_a_pass_probes_the_platform_before_sending_concurrently(engine: Engine) -> None:
    _enqueue(engine, ["A", "B", "C", "D"])
    adapter = RecordingAdapter()
    adapter.refuse["A"] = 30.0  # the first send of the pass is answered 429
    dispatcher = Dispatcher(engine, {"slack": cast(Sender, adapter)}, _render, worker="w")

    asyncio.run(dispatcher.drain_once())

    assert adapter.sent == [], "nothing was on the wire when the platform asked to wait"
    with session_scope(engine) as session:
        rows = {d.address: d for d in session.exec(select(Delivery))}
    # Not held for the pause either: all back in the outbox, only A charged an attempt.
    assert {d.state for d in rows.values()} == {"pending"}
    assert {address: d.attempts for address, d in rows.items()} == {"A": 1, "B": 0, "C": 0, "D": 0}


async def _run_until_sent(dispatcher: Dispatcher, adapter: RecordingAdapter, count: int) -> None:
    stop = asyncio.Event()
    running = asyncio.create_task(dispatcher.run(stop, poll_seconds=3600))
    try:
        async with asyncio.timeout(30):
            while len(adapter.sent) < count:
                await asyncio.sleep(0.01)
    finally:
        stop.set()
        await running


def test_the_next_claim_is_sent_while_the_one_before_waits_for_a_window(engine: Engine) -> None:
    _enqueue(engine, ["A", "A", "B", "C"])
    adapter = RecordingAdapter((RateLimit(scope="recipient", count=1, seconds=0.3),))
    dispatcher = Dispatcher(engine, {"slack": cast(Sender, adapter)}, _render, worker="w", batch=2)

    asyncio.run(_run_until_sent(dispatcher, adapter, 4))

    # The first claim (A, A) waits 0.3 s for A's window; the second (B, C) does not wait
    # for it, and the second message to A still goes after the first.
    assert [key for _, key, _ in adapter.sent] == ["k000", "k002", "k003", "k001"]
    assert set(_states(engine).values()) == {"sent"}


def test_claims_in_flight_at_once_never_send_two_to_one_recipient(engine: Engine) -> None:
    addresses = ["A", "B", "A", "C", "A", "D"]  # each claim of two has a message to A
    keys = _enqueue(engine, addresses)
    adapter = RecordingAdapter()
    dispatcher = Dispatcher(engine, {"slack": cast(Sender, adapter)}, _render, worker="w", batch=2)

    asyncio.run(_run_until_sent(dispatcher, adapter, 6))

    assert adapter.most_to_one == 1
    to_a = [key for key, address in zip(keys, addresses, strict=True) if address == "A"]
    assert [key for address, key, _ in adapter.sent if address == "A"] == to_a


def test_a_delivery_enqueued_while_running_is_claimed_without_waiting_for_the_poll(
    engine: Engine,
) -> None:
    adapter = RecordingAdapter()
    dispatcher = Dispatcher(engine, {"slack": cast(Sender, adapter)}, _render, worker="w")

    async def scenario() -> None:
        stop = asyncio.Event()
        running = asyncio.create_task(dispatcher.run(stop, poll_seconds=3600))
        await asyncio.sleep(0.1)  # the first pass found nothing: the next poll is an hour away
        await asyncio.to_thread(_enqueue, engine, ["A"])  # a scan commits in a worker thread
        try:
            async with asyncio.timeout(30):
                while not adapter.sent:
                    await asyncio.sleep(0.01)
        finally:
            stop.set()
            await running

    asyncio.run(scenario())
    assert [key for _, key, _ in adapter.sent] == ["k000"]


def test_a_delivery_that_cannot_be_rendered_fails_alone(engine: Engine) -> None:
    keys = _enqueue(engine, ["A", "B"])

    def render(session: object, delivery: Delivery) -> Reply:
        if delivery.address == "A":
            raise ValueError("no such template")
        return Reply(text=delivery.idempotency_key)

    adapter = RecordingAdapter()
    dispatcher = Dispatcher(engine, {"slack": cast(Sender, adapter)}, render, worker="w")

    assert asyncio.run(dispatcher.drain_once()) == 2

    assert _states(engine) == {keys[0]: "failed", keys[1]: "sent"}
    with session_scope(engine) as session:
        failed = session.exec(select(Delivery).where(Delivery.address == "A")).one()
    assert failed.last_error is not None and "no such template" in failed.last_error
