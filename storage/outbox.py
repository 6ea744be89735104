"""The delivery outbox: rows written with the alert change, claimed and sent by a dispatcher.

States: pending -> sending -> sent | failed (| cancelled when the alert is acknowledged first).
A unique idempotency key per (alert, stage, platform, address) means a re-scan, a crash or a
second instance never enqueues a message twice. Claims use `FOR UPDATE SKIP LOCKED` on
PostgreSQL so several dispatchers share the work; a claim whose process died is released after
its lease, and the resend carries the same idempotency key.

A row's payload names what to say, not the text: a `DeliveryPayload` encoded and decoded here
alone, and rendered at send time (`handlers.alert_render.render_delivery`) in the recipient's
language, so an alert acknowledged meanwhile is not sent at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import bindparam, event, func, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.locales import DEFAULT_LOCALE
from core.periods import Period
from storage.models import Delivery

CLAIM_LEASE = timedelta(minutes=2)
ALERT = "alert"
DIGEST = "kpi_digest"
COVER = "cover_notice"
HANDOVER = "oncall_handover"


@dataclass(frozen=True, kw_only=True)
class DeliveryPayload:
    """What a delivery says, by name, and in which language. Decoding a type this version
    does not know (a row a newer release wrote) gives this base, which nothing renders."""

    locale: str = DEFAULT_LOCALE


@dataclass(frozen=True, kw_only=True)
class AlertPayload(DeliveryPayload):
    """An alert's notice at one stage (what changed) and escalation level (0: first notice)."""

    alert_id: int
    stage: str
    level: int = 0


@dataclass(frozen=True, kw_only=True)
class DigestPayload(DeliveryPayload):
    """The monthly KPI digest: the month, its scope (a department, or None for the company)
    and the moment its figures are taken at, so every recipient reads the same numbers."""

    period: Period
    as_of: datetime
    sla_minutes: int
    targets: Mapping[str, Decimal] = field(default_factory=dict)
    department: str | None = None


@dataclass(frozen=True, kw_only=True)
class CoverNoticePayload(DeliveryPayload):
    """An employee's own notice about an account's cover (`[alerts] notify_employees`):
    `at_risk` (suspended within days, or suspended: the alert's dates tell which) or
    `restored`. Names the `suspension_imminent` alert it follows, never an amount."""

    alert_id: int
    notice: str


@dataclass(frozen=True, kw_only=True)
class HandoverPayload(DeliveryPayload):
    """The on-call hand-over to the incoming member: their shift's first day, and its last
    (None when nobody else follows)."""

    start: date
    until: date | None = None


Payload = AlertPayload | DigestPayload | CoverNoticePayload | HandoverPayload
"""Every payload a delivery row can carry."""


def encode_payload(payload: Payload) -> str:
    """The column's JSON. Byte-stable for equal payloads: the dispatcher batches deliveries
    whose payload text is equal, and derives per-person platform ids from it (bot.batching)."""
    if isinstance(payload, CoverNoticePayload):
        return json.dumps(
            {
                "type": COVER,
                "alert_id": payload.alert_id,
                "notice": payload.notice,
                "locale": payload.locale,
            }
        )
    if isinstance(payload, HandoverPayload):
        until = payload.until.isoformat() if payload.until is not None else None
        return json.dumps(
            {
                "type": HANDOVER,
                "start": payload.start.isoformat(),
                "until": until,
                "locale": payload.locale,
            }
        )
    if isinstance(payload, AlertPayload):
        return json.dumps(
            {
                "type": ALERT,
                "alert_id": payload.alert_id,
                "stage": payload.stage,
                "level": payload.level,
                "locale": payload.locale,
            }
        )
    body = {
        "type": DIGEST,
        "period": str(payload.period),
        "as_of": payload.as_of.isoformat(),
        "sla_minutes": payload.sla_minutes,
        "targets": {metric: str(value) for metric, value in sorted(payload.targets.items())},
        "department": payload.department,
        "locale": payload.locale,
    }
    return json.dumps(body, ensure_ascii=False)


def decode_payload(text: str) -> DeliveryPayload:
    """The payload a row carries; raises ValueError naming what is wrong with a malformed one."""
    try:
        body: Any = json.loads(text)
        if not isinstance(body, dict):
            raise TypeError("not a JSON object")
        locale = str(body.get("locale") or DEFAULT_LOCALE)
        kind = body.get("type")
        if kind == ALERT:
            return AlertPayload(
                alert_id=int(body["alert_id"]),
                stage=str(body["stage"]),
                level=int(body.get("level", 0)),
                locale=locale,
            )
        if kind == COVER:
            return CoverNoticePayload(
                alert_id=int(body["alert_id"]), notice=str(body["notice"]), locale=locale
            )
        if kind == HANDOVER:
            until = body.get("until")
            return HandoverPayload(
                start=date.fromisoformat(body["start"]),
                until=date.fromisoformat(until) if until else None,
                locale=locale,
            )
        if kind == DIGEST:
            return DigestPayload(
                period=Period.parse(body["period"]),
                as_of=datetime.fromisoformat(body["as_of"]),
                sla_minutes=int(body["sla_minutes"]),
                targets={metric: Decimal(v) for metric, v in body.get("targets", {}).items()},
                department=body.get("department"),
                locale=locale,
            )
        return DeliveryPayload(locale=locale)
    except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
        raise ValueError(f"delivery payload {text[:80]!r}: {type(exc).__name__}: {exc}") from None


@dataclass(frozen=True, kw_only=True)
class NewDelivery:
    idempotency_key: str
    platform: str
    address: str
    payload: Payload
    not_before: datetime
    alert_id: int | None = None
    is_group: bool = False
    employee_id: str | None = None
    urgent: bool = False
    state: str = "pending"
    """`unreachable`: a recipient with no id on any enabled platform, recorded, never sent."""


def enqueue(session: Session, items: Sequence[NewDelivery], *, now: datetime) -> int:
    """Insert deliveries, skipping keys already present; returns how many were new."""
    if not items:
        return 0
    rows = [
        {
            "idempotency_key": item.idempotency_key,
            "alert_id": item.alert_id,
            "platform": item.platform,
            "address": item.address,
            "is_group": item.is_group,
            "employee_id": item.employee_id,
            "payload": encode_payload(item.payload),
            "urgent": item.urgent,
            "state": item.state,
            "attempts": 0,
            "next_attempt_at": item.not_before,
            "created_at": now,
        }
        for item in items
    ]
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(Delivery).on_conflict_do_nothing(index_elements=["idempotency_key"])
    result = session.execute(statement.returning(col(Delivery.id)), rows)
    added = len(result.all())
    if added:
        _wake_after_commit(session)
    return added


_ENQUEUED: WeakKeyDictionary[Engine, list[Callable[[], None]]] = WeakKeyDictionary()
_WAKE_PENDING = "storage.outbox.wake_pending"


def on_enqueued(engine: Engine, callback: Callable[[], None]) -> Callable[[], None]:
    """Call `callback` after each commit that enqueued deliveries through `engine` in this
    process, from the committing thread: the dispatcher claims them at once instead of at its
    next poll (`[scheduler] outbox_poll_seconds`). Returns the function that stops it."""
    callbacks = _ENQUEUED.setdefault(engine, [])
    callbacks.append(callback)
    return lambda: callbacks.remove(callback)


def _wake_after_commit(session: Session) -> None:
    callbacks = _ENQUEUED.get(session.get_bind().engine)
    if not callbacks or session.info.get(_WAKE_PENDING):
        return
    session.info[_WAKE_PENDING] = True

    def wake(committed: Session) -> None:
        committed.info.pop(_WAKE_PENDING, None)
        for callback in list(callbacks):
            callback()

    event.listen(session, "after_commit", wake, once=True)


def claim_due(session: Session, *, now: datetime, worker: str, limit: int = 50) -> list[Delivery]:
    """Claim pending deliveries whose time has come, oldest first (the caller commits at once).

    The due ids are read first (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so concurrent claims
    split the work without waiting), then taken by one `UPDATE … WHERE id IN (…) AND state =
    'pending' RETURNING …`: a row another dispatcher took in between is simply not returned.
    Not one statement with the SELECT as a subquery: PostgreSQL may evaluate a `LIMIT … FOR
    UPDATE` subquery of an UPDATE more than once and then claims more rows than `limit`.
    """
    due = (
        select(Delivery.id)
        .where(col(Delivery.state) == "pending", col(Delivery.next_attempt_at) <= now)
        .order_by(col(Delivery.urgent).desc(), col(Delivery.next_attempt_at), col(Delivery.id))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list(session.exec(due).all())
    if not ids:
        return []
    statement = (
        update(Delivery)
        .where(col(Delivery.id).in_(ids), col(Delivery.state) == "pending")
        .values(state="sending", claimed_by=worker, claimed_at=now)
        .returning(Delivery)
        .execution_options(synchronize_session=False)
    )
    claimed = {row.id: row for row in session.scalars(statement)}
    # RETURNING comes in no particular order; senders rely on the claim order.
    return [claimed[row_id] for row_id in ids if row_id in claimed]


def mark_sent(session: Session, delivery_id: int, *, message_ref: str, now: datetime) -> None:
    mark_all_sent(session, [(delivery_id, message_ref)], now=now)


def mark_all_sent(session: Session, sent: Sequence[tuple[int, str]], *, now: datetime) -> None:
    """(delivery id, message ref) pairs as sent, in one `executemany` on the session's
    connection: the dispatcher marks every send, so the ORM's per-statement work counted
    (docs/PERFORMANCE.md, fanout_10k)."""
    if sent:
        rows = [{"delivery_id": id_, "ref": ref, "at": now} for id_, ref in sent]
        session.connection().execute(_MARK_SENT, rows)


_MARK_SENT = (
    update(Delivery)
    .where(col(Delivery.id) == bindparam("delivery_id"))
    .values(state="sent", message_ref=bindparam("ref"), sent_at=bindparam("at"), last_error=None)
)


def mark_retry(
    session: Session, delivery_id: int, *, error: str, next_attempt_at: datetime, attempts: int
) -> None:
    session.execute(
        update(Delivery)
        .where(col(Delivery.id) == delivery_id)
        .values(
            state="pending",
            attempts=attempts,
            last_error=error[:500],
            next_attempt_at=next_attempt_at,
            claimed_by=None,
        )
    )


def mark_failed(session: Session, delivery_id: int, *, error: str, attempts: int) -> None:
    session.execute(
        update(Delivery)
        .where(col(Delivery.id) == delivery_id)
        .values(state="failed", attempts=attempts, last_error=error[:500])
    )


def release_stale_claims(session: Session, *, now: datetime, lease: timedelta = CLAIM_LEASE) -> int:
    """Deliveries left in `sending` by a process that died go back to `pending`.

    The lease must outlast the slowest send (adapters time out after 10 s), or a live send's
    row would be handed to another dispatcher while it is still in flight.
    """
    result = session.execute(
        update(Delivery)
        .where(col(Delivery.state) == "sending", col(Delivery.claimed_at) < now - lease)
        .values(state="pending", claimed_by=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def release_own_claims(session: Session, *, worker: str) -> int:
    """On a clean shutdown, hand back what this worker claimed but did not send."""
    result = session.execute(
        update(Delivery)
        .where(col(Delivery.state) == "sending", col(Delivery.claimed_by) == worker)
        .values(state="pending", claimed_by=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def counts_by_state(session: Session) -> dict[str, int]:
    query = select(Delivery.state, func.count()).group_by(Delivery.state)
    return {state: int(count) for state, count in session.exec(query).all()}


@dataclass(frozen=True)
class Backlog:
    """Deliveries due now and not sent: what the dispatcher has yet to work through."""

    count: int
    oldest_due: datetime | None
    """The earliest `next_attempt_at` among them; its age says whether sending keeps up."""


def due_backlog(session: Session, now: datetime) -> Backlog:
    """Pending deliveries whose time has come (held for quiet hours or a retry later are not
    backlog: they are waiting on purpose)."""
    query = select(func.count(), func.min(Delivery.next_attempt_at)).where(
        Delivery.state == "pending", Delivery.next_attempt_at <= now
    )
    count, oldest = session.exec(query).one()
    return Backlog(count=int(count), oldest_due=oldest)


def sent_ref(session: Session, alert_id: int) -> list[Delivery]:
    """Sent deliveries of an alert (to update their cards in place after an acknowledgement)."""
    query = select(Delivery).where(Delivery.alert_id == alert_id, Delivery.state == "sent")
    return list(session.exec(query).all())
