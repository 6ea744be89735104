"""One debt, one group: inhibition and group acknowledgement (issue 14 item 2).

An account's unpaid month raises `due_soon`, then `overdue`, then `suspension_imminent`, and a
plan for it raises `installment_due` reminders: separate alerts about one debt. Notified and
escalated separately, the same people hear about it twice and an acknowledgement of one leaves
the other escalating. As Alertmanager's `inhibit_rules` do, the more serious alert silences the
lesser ones of its group while it is active; and acknowledging the group's most serious open
alert acknowledges the lesser ones with it. An acknowledgement never covers a more serious
alert that comes later: that is news, and it notifies afresh.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from core.alerts import AlertKind, AlertState
from core.periods import Period

GROUP_RANK: Mapping[AlertKind, int] = {
    AlertKind.DUE_SOON: 0,
    AlertKind.OVERDUE: 1,
    AlertKind.INSTALLMENT_DUE: 1,
    AlertKind.SUSPENSION_IMMINENT: 2,
}
"""The kinds about an account-period's debt, by seriousness: a higher rank covers lower ones."""

INHIBITS: Mapping[AlertKind, frozenset[AlertKind]] = {
    AlertKind.SUSPENSION_IMMINENT: frozenset({AlertKind.OVERDUE, AlertKind.DUE_SOON}),
}
"""While an alert of the key's kind is active, its group's alerts of these kinds send nothing
and do not escalate. Installment reminders stay: paying the parts is what averts suspension."""


def group_of(kind: AlertKind, account_id: str | None, period: Period | str | None) -> str | None:
    """`account:period` (e.g. `shanghai:2026-10`) for an account's debt; None for other alerts.

    A plan's installments carry the account and period of the overdue alert they split, so
    they fall into its group."""
    if kind not in GROUP_RANK or not account_id or not period:
        return None
    return f"{account_id}:{period}"


@dataclass(frozen=True, kw_only=True)
class Member:
    """What the group rules need of one alert."""

    id: int
    kind: AlertKind
    group: str
    state: AlertState


def inhibitors(members: Iterable[Member]) -> dict[int, int]:
    """Alert id -> the id of the active alert inhibiting it, for every inhibited member.

    Resolved alerts neither inhibit nor are inhibited; of several sources the oldest is named.
    """
    active = sorted((m for m in members if m.state != AlertState.RESOLVED), key=lambda m: m.id)
    found: dict[int, int] = {}
    for source in active:
        targets = INHIBITS.get(source.kind, frozenset())
        for member in active:
            if member.group == source.group and member.kind in targets:
                found.setdefault(member.id, source.id)
    return found


def covered_by(acknowledged: Member, members: Iterable[Member]) -> list[int]:
    """The open alerts an acknowledgement of `acknowledged` (open until now) covers, by id.

    Only the most serious open alert of a group covers anything, and then every open alert of
    its group ranked below it; acknowledging a lesser one covers nothing else.
    """
    rank = GROUP_RANK[acknowledged.kind]
    group = [
        m
        for m in members
        if m.group == acknowledged.group and m.state == AlertState.OPEN and m.id != acknowledged.id
    ]
    if any(GROUP_RANK[m.kind] > rank for m in group):
        return []
    return sorted(m.id for m in group if GROUP_RANK[m.kind] < rank)
