"""The group rules: which alerts share a debt, which inhibit which, what an ack covers."""

from __future__ import annotations

from core.alert_groups import Member, covered_by, group_of, inhibitors
from core.alerts import AlertKind, AlertState
from core.periods import Period

OPEN, ACKED, RESOLVED = AlertState.OPEN, AlertState.ACKNOWLEDGED, AlertState.RESOLVED
SH = "shanghai:2026-10"


def member(alert_id: int, kind: AlertKind, state: AlertState = OPEN, group: str = SH) -> Member:
    return Member(id=alert_id, kind=kind, group=group, state=state)


def test_an_account_periods_debt_and_its_installments_form_one_group() -> None:
    month = Period(2026, 10)
    assert group_of(AlertKind.OVERDUE, "shanghai", month) == SH
    assert group_of(AlertKind.SUSPENSION_IMMINENT, "shanghai", "2026-10") == SH
    assert group_of(AlertKind.INSTALLMENT_DUE, "shanghai", month) == SH
    assert group_of(AlertKind.DUE_SOON, "hk", Period(2026, 11)) == "hk:2026-11"
    # Not a debt of one month: no group.
    assert group_of(AlertKind.FUNDING_GAP, "shanghai", None) is None
    assert group_of(AlertKind.ENROLLMENT_DEADLINE, "shanghai", month) is None
    assert group_of(AlertKind.KPI_BELOW_TARGET, None, month) is None


def test_suspension_imminent_inhibits_its_groups_overdue_and_due_soon_only() -> None:
    members = [
        member(1, AlertKind.OVERDUE),
        member(2, AlertKind.INSTALLMENT_DUE),
        member(3, AlertKind.SUSPENSION_IMMINENT, ACKED),  # acknowledged still inhibits
        member(4, AlertKind.OVERDUE, group="hangzhou:2026-10"),
        member(5, AlertKind.DUE_SOON, RESOLVED),
    ]
    assert inhibitors(members) == {1: 3}


def test_a_resolved_suspension_alert_inhibits_nothing() -> None:
    members = [member(1, AlertKind.OVERDUE), member(2, AlertKind.SUSPENSION_IMMINENT, RESOLVED)]
    assert inhibitors(members) == {}


def test_acknowledging_the_highest_open_alert_covers_the_lower_ones() -> None:
    suspension = member(3, AlertKind.SUSPENSION_IMMINENT)
    members = [
        member(1, AlertKind.OVERDUE),
        member(2, AlertKind.INSTALLMENT_DUE),
        suspension,
        member(4, AlertKind.DUE_SOON, ACKED),  # not open: nothing to cover
        member(5, AlertKind.OVERDUE, group="hangzhou:2026-10"),
    ]
    assert covered_by(suspension, members) == [1, 2]


def test_acknowledging_a_lower_alert_covers_no_higher_one() -> None:
    overdue = member(1, AlertKind.OVERDUE)
    members = [overdue, member(2, AlertKind.SUSPENSION_IMMINENT), member(3, AlertKind.DUE_SOON)]
    assert covered_by(overdue, members) == []
    # Alone at the top of its group, overdue covers what ranks below it, not its equal.
    members = [overdue, member(2, AlertKind.INSTALLMENT_DUE), member(3, AlertKind.DUE_SOON)]
    assert covered_by(overdue, members) == [3]
