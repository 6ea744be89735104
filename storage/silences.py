"""Silences on record: made, listed, removed, and what they mute now (issue 14 item 3).

The matching rules are `core.silences`; here they are stored, audited (`storage.audit`, the
actor and reason of every silence made or removed) and applied to what is already queued: a
new silence holds the pending deliveries of the open alerts it mutes until it ends, as a snooze
does, and removing it early lets them go at once. An expired silence needs no job: it is
simply no longer in force, so scans and escalation resume by themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from core.alerts import AlertKind, AlertState
from core.silences import Silence, SilenceError, silence_end, silenced_until
from storage.audit import record_audit
from storage.models import Alert, Delivery
from storage.models import Silence as SilenceRow

ADD, REMOVE = "silence.add", "silence.remove"
"""The audit log's actions for a silence made and a silence removed."""


def rule(row: SilenceRow) -> Silence:
    """The matching rule of a stored silence; a removed one ended when it was removed."""
    end = row.ends_at if row.removed_at is None else min(row.ends_at, row.removed_at)
    return Silence(
        starts_at=row.starts_at,
        ends_at=end,
        account_id=row.account_id,
        kind=AlertKind(row.kind) if row.kind else None,
        alert_id=row.alert_id,
    )


def silence_rules(session: Session) -> list[Silence]:
    """Every silence ever made (ended ones too: escalation restarts its clock at their end)."""
    return [rule(row) for row in session.exec(select(SilenceRow))]


def describe(row: SilenceRow) -> str:
    """`account=shanghai kind=due_soon until 2026-10-23T02:00:00+00:00: reason` (audit, CLI)."""
    matchers = [
        f"{name}={value}"
        for name, value in (
            ("account", row.account_id),
            ("kind", row.kind),
            ("alert", row.alert_id),
        )
        if value is not None
    ]
    reason = f": {row.reason}" if row.reason else ""
    return f"{' '.join(matchers)} until {row.ends_at.isoformat()}{reason}"


def _open_alerts(session: Session) -> Sequence[Alert]:
    return session.exec(select(Alert).where(col(Alert.state) == AlertState.OPEN.value)).all()


def _hold(session: Session, alert_ids: Iterable[int], until: datetime) -> None:
    """Pending deliveries of these alerts wait until `until`."""
    ids = list(alert_ids)
    if ids:
        session.execute(
            update(Delivery)
            .where(col(Delivery.alert_id).in_(ids), col(Delivery.state) == "pending")
            .where(col(Delivery.next_attempt_at) < until)
            .values(next_attempt_at=until)
        )


def add_silence(
    session: Session, silence: Silence, *, reason: str, by: str, via: str, at: datetime
) -> SilenceRow:
    """Store `silence` (made by `core.silences.new_silence`), audit it, hold what it mutes."""
    row = SilenceRow(
        account_id=silence.account_id,
        kind=silence.kind.value if silence.kind else None,
        alert_id=silence.alert_id,
        starts_at=silence.starts_at,
        ends_at=silence.ends_at,
        reason=reason,
        created_by=by,
        created_via=via,
    )
    session.add(row)
    session.flush()
    record_audit(session, at=at, actor=by, action=ADD, detail=f"#{row.id} {describe(row)}", via=via)
    muted = [
        alert.id
        for alert in _open_alerts(session)
        if alert.id is not None
        and silence.matches(
            alert_id=alert.id, kind=AlertKind(alert.kind), account_id=alert.account_id
        )
    ]
    _hold(session, muted, silence.ends_at)
    return row


def remove_silence(
    session: Session, silence_id: int, *, by: str, via: str, at: datetime
) -> SilenceRow:
    """End a silence now; SilenceError when there is no such silence in force. Deliveries it
    held go now, unless another silence still mutes their alert."""
    row = session.get(SilenceRow, silence_id)
    if row is None or row.removed_at is not None or row.ends_at <= at:
        raise SilenceError(f"no silence #{silence_id} is in force")
    held = rule(row)
    row.removed_at, row.removed_by = at, by
    session.add(row)
    session.flush()
    record_audit(
        session, at=at, actor=by, action=REMOVE, detail=f"#{row.id} {describe(row)}", via=via
    )
    rules = silence_rules(session)
    for alert in _open_alerts(session):
        assert alert.id is not None
        kind = AlertKind(alert.kind)
        if not held.matches(alert_id=alert.id, kind=kind, account_id=alert.account_id):
            continue
        still = silenced_until(
            rules, alert_id=alert.id, kind=kind, account_id=alert.account_id, now=at
        )
        session.execute(
            update(Delivery)
            .where(col(Delivery.alert_id) == alert.id, col(Delivery.state) == "pending")
            .where(col(Delivery.next_attempt_at) == held.ends_at)
            .values(next_attempt_at=still or at)
        )
    return row


def silences_in_force(session: Session, now: datetime) -> Sequence[SilenceRow]:
    """Silences not removed and not yet ended, soonest end first (`silence list`)."""
    query = select(SilenceRow).where(
        col(SilenceRow.removed_at).is_(None), col(SilenceRow.ends_at) > now
    )
    return session.exec(query.order_by(col(SilenceRow.ends_at), col(SilenceRow.id))).all()


def silenced(session: Session, alerts: Iterable[Alert], now: datetime) -> Mapping[int, datetime]:
    """Alert id -> when its silence ends, for those of `alerts` silenced at `now`."""
    rules = silence_rules(session)
    found = {}
    for alert in alerts:
        if alert.id is None:
            continue
        until = silenced_until(
            rules,
            alert_id=alert.id,
            kind=AlertKind(alert.kind),
            account_id=alert.account_id,
            now=now,
        )
        if until is not None:
            found[alert.id] = until
    return found


def quiet_until(rules: Sequence[Silence], alert: Alert, now: datetime) -> datetime | None:
    """The later of the alert's snooze and its latest silence end (past ones included): what
    `core.escalation.escalation_due` counts its time from."""
    assert alert.id is not None
    end = silence_end(
        rules, alert_id=alert.id, kind=AlertKind(alert.kind), account_id=alert.account_id, now=now
    )
    ends = [t for t in (alert.snoozed_until, end) if t is not None]
    return max(ends, default=None)
