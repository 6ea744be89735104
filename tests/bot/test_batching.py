"""The dispatcher sends one alert's deliveries to many people through `send_many`.

A recording adapter stands in for DingTalk so every call, key and partial failure is visible;
the real adapter against the fake DingTalk is exercised through `coverwatch run` in
`test_run_dingtalk.py`. The clock is injected and moved forward instead of sleeping.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from adapters.base import BatchDeliveryError, DeliveryError, RateLimit, Sender
from bot.dispatcher import Dispatcher
from core.locales import ZH_CN
from handlers.types import Recipient, Reply
from storage.db import session_scope
from storage.models import Alert, Delivery
from storage.outbox import AlertPayload, CoverNoticePayload, NewDelivery, decode_payload, enqueue

START = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


class Clock:
    """Moved by the test; `tick` also advances it on every reading, as a real clock does."""

    def __init__(self, tick: timedelta = timedelta(0)) -> None:
        self.now = START
        self.tick = tick

    def __call__(self) -> datetime:
        self.now += self.tick
        return self.now


class BatchAdapter:
    """Records `send` and `send_many`; `failures` are raised by the next `send_many` calls."""

    name = "dingtalk"
    rate_limits = (RateLimit(scope="recipient", count=20, seconds=60.0),)

    def __init__(self) -> None:
        self.single: list[tuple[str, bool]] = []
        self.many: list[tuple[tuple[str, ...], str, str | None]] = []
        self.failures: list[DeliveryError] = []

    async def send(self, recipient: Recipient, reply: Reply, *, key: str) -> str:
        self.single.append((recipient.address, recipient.is_group))
        return f"one-{recipient.address}"

    async def send_many(
        self, user_ids: Sequence[str], reply: Reply, *, key: str, locale: str | None = None
    ) -> dict[str, str]:
        self.many.append((tuple(user_ids), key, locale))
        if self.failures:
            raise self.failures.pop(0)
        return {user: f"ref-{len(self.many)}-{user}" for user in user_ids}


class SingleAdapter:
    """A platform without `send_many` (as Slack or WeCom): one call per delivery."""

    name = "wecom"
    rate_limits: tuple[RateLimit, ...] = ()

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, recipient: Recipient, reply: Reply, *, key: str) -> str:
        self.sent.append(recipient.address)
        return f"one-{recipient.address}"


def _render(session: Session, delivery: Delivery) -> Reply:
    payload = decode_payload(delivery.payload)
    assert isinstance(payload, AlertPayload)
    return Reply(text=f"alert {payload.alert_id}")


def _alerts(engine: Engine, count: int) -> list[int]:
    with session_scope(engine) as session:
        alerts = [
            Alert(dedupe_key=f"overdue:a{n}", kind="overdue", opened_at=START, updated_at=START)
            for n in range(count)
        ]
        session.add_all(alerts)
        session.flush()
        return [alert.id for alert in alerts if alert.id is not None]


def _delivery(alert_id: int, platform: str, address: str, *, group: bool = False) -> NewDelivery:
    return NewDelivery(
        idempotency_key=f"alert:{alert_id}:0:L0:{platform}:{address}",
        alert_id=alert_id,
        platform=platform,
        address=address,
        is_group=group,
        payload=AlertPayload(alert_id=alert_id, stage="0"),
        not_before=START,
    )


def _rows(engine: Engine) -> dict[str, Delivery]:
    with session_scope(engine) as session:
        return {d.address: d for d in session.exec(select(Delivery))}


def test_one_alert_to_many_people_is_one_send_many_and_each_keeps_its_ref(engine: Engine) -> None:
    first, second = _alerts(engine, 2)
    people = [f"staff{n:02d}" for n in range(25)]
    items = [_delivery(first, "dingtalk", user) for user in people]
    items += [_delivery(first, "dingtalk", "cidHR==", group=True)]
    items += [_delivery(second, "dingtalk", "staff00"), _delivery(second, "dingtalk", "staff01")]
    items += [_delivery(first, "wecom", "wx1"), _delivery(first, "wecom", "wx2")]
    with session_scope(engine) as session:
        enqueue(session, items, now=START)
    ding, wecom = BatchAdapter(), SingleAdapter()
    adapters = {"dingtalk": cast(Sender, ding), "wecom": cast(Sender, wecom)}
    dispatcher = Dispatcher(engine, adapters, _render, worker="w1", clock=Clock())

    asyncio.run(dispatcher.drain_once())

    assert [(users, locale) for users, _key, locale in ding.many] == [
        (tuple(people), ZH_CN),
        (("staff00", "staff01"), ZH_CN),
    ]
    assert ding.many[0][1] != ding.many[1][1], "each message has its own batch key"
    assert ding.single == [("cidHR==", True)], "groups are sent one by one"
    assert sorted(wecom.sent) == ["wx1", "wx2"], "platforms without send_many are unchanged"
    with session_scope(engine) as session:
        rows = list(session.exec(select(Delivery)))
    assert {d.state for d in rows} == {"sent"}
    refs = {(d.alert_id, d.address): d.message_ref for d in rows if d.platform == "dingtalk"}
    assert refs[(first, "staff07")] == "ref-1-staff07"
    assert refs[(second, "staff01")] == "ref-2-staff01"
    assert refs[(first, "cidHR==")] == "one-cidHR=="


def test_partial_failure_marks_delivered_sent_and_retries_only_the_rest(engine: Engine) -> None:
    [alert] = _alerts(engine, 1)
    people = [f"staff{n:02d}" for n in range(8)]
    with session_scope(engine) as session:
        enqueue(session, [_delivery(alert, "dingtalk", user) for user in people], now=START)
    clock, ding = Clock(tick=timedelta(milliseconds=3)), BatchAdapter()
    throttled = DeliveryError("dingtalk: 90002", retry_after=30.0)
    delivered = {user: f"early-{user}" for user in people[:5]}
    # staff05 and staff06 were throttled; staff07 is not a valid user (in neither list).
    ding.failures.append(BatchDeliveryError(throttled, delivered=delivered, remaining=people[5:7]))
    adapters = {"dingtalk": cast(Sender, ding)}
    dispatcher = Dispatcher(engine, adapters, _render, worker="w1", clock=clock)

    asyncio.run(dispatcher.drain_once())

    rows = _rows(engine)
    assert {u: rows[u].message_ref for u in people[:5]} == delivered
    assert all(rows[u].state == "sent" for u in people[:5])
    for user in people[5:7]:
        assert rows[user].state == "pending" and rows[user].attempts == 1
        assert rows[user].next_attempt_at.replace(tzinfo=UTC) >= START + timedelta(seconds=30)
    assert rows["staff07"].state == "failed" and rows["staff07"].last_error
    due = {rows[user].next_attempt_at for user in people[5:7]}
    assert len(due) == 1, "the rest of a batch comes due again at one instant, together"

    clock.now += timedelta(seconds=29)
    asyncio.run(dispatcher.drain_once())
    assert len(ding.many) == 1, "nothing is retried before the platform's Retry-After"
    clock.now += timedelta(seconds=2)
    asyncio.run(dispatcher.drain_once())
    assert ding.many[1][0] == ("staff05", "staff06")
    assert ding.many[1][1] == ding.many[0][1], "a retry reuses the batch key"
    rows = _rows(engine)
    assert rows["staff05"].state == rows["staff06"].state == "sent"
    assert rows["staff05"].message_ref == "ref-2-staff05"


def test_employees_cover_notices_go_together_too(engine: Engine) -> None:
    """[alerts] notify_employees may tell thousands at once: one send_many per 20 people on
    DingTalk (the adapter splits), not one call each; each locale is its own message."""
    (alert_id,) = _alerts(engine, 1)
    items = [
        NewDelivery(
            idempotency_key=f"cover:{alert_id}:x:at_risk:dingtalk:{user}",
            platform="dingtalk",
            address=user,
            employee_id=user,
            payload=CoverNoticePayload(alert_id=alert_id, notice="at_risk", locale=locale),
            not_before=START,
        )
        for user, locale in [("e1", ZH_CN), ("e2", ZH_CN), ("e3", "en")]
    ]
    with session_scope(engine) as session:
        enqueue(session, items, now=START)
    ding = BatchAdapter()
    dispatcher = Dispatcher(
        engine,
        {"dingtalk": cast(Sender, ding)},
        lambda session, delivery: Reply(text="notice"),
        worker="w1",
        clock=Clock(),
    )

    asyncio.run(dispatcher.drain_once())

    assert [(users, locale) for users, _key, locale in ding.many] == [(("e1", "e2"), ZH_CN)]
    assert ding.single == [("e3", False)]  # alone in its language: an ordinary send
    assert {d.state for d in _rows(engine).values()} == {"sent"}
