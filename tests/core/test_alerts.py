import pytest

from core.alerts import (
    URGENT_KINDS,
    AlertKind,
    AlertState,
    Finding,
    InvalidTransition,
    dedupe_key,
    transition,
)
from core.periods import Period

OPEN, ACKED, RESOLVED = AlertState.OPEN, AlertState.ACKNOWLEDGED, AlertState.RESOLVED


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (OPEN, ACKED),
        (OPEN, RESOLVED),  # the condition cleared before anyone acknowledged
        (ACKED, RESOLVED),
        (RESOLVED, OPEN),  # the condition came back
    ],
)
def test_valid_moves(current: AlertState, target: AlertState) -> None:
    assert transition(current, target) is target


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (OPEN, OPEN),
        (ACKED, OPEN),  # acknowledging cannot be undone; only resolving ends it
        (ACKED, ACKED),
        (RESOLVED, ACKED),
        (RESOLVED, RESOLVED),
    ],
)
def test_invalid_moves(current: AlertState, target: AlertState) -> None:
    with pytest.raises(InvalidTransition, match=f"from {current} to {target}"):
        transition(current, target)


def test_invalid_transition_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        transition(RESOLVED, ACKED)


def test_dedupe_key_is_stable_and_readable() -> None:
    oct_ = Period(2026, 10)
    key = dedupe_key(AlertKind.OVERDUE, account_id="beijing", period=oct_)
    assert key == "overdue|account=beijing|period=2026-10"
    # Same condition seen again (another scan, an equal but distinct Period): the same key.
    assert (
        dedupe_key(AlertKind.OVERDUE, period=Period.parse("2026-10"), account_id="beijing") == key
    )


@pytest.mark.parametrize(
    "other",
    [
        dedupe_key(AlertKind.DUE_SOON, account_id="beijing", period=Period(2026, 10)),
        dedupe_key(AlertKind.OVERDUE, account_id="shanghai", period=Period(2026, 10)),
        dedupe_key(AlertKind.OVERDUE, account_id="beijing", period=Period(2026, 11)),
        dedupe_key(AlertKind.OVERDUE, account_id="beijing"),
        dedupe_key(AlertKind.OVERDUE, account_id="beijing", period=Period(2026, 10), extra="x"),
    ],
)
def test_dedupe_key_differs_for_a_different_condition(other: str) -> None:
    assert other != dedupe_key(AlertKind.OVERDUE, account_id="beijing", period=Period(2026, 10))


def test_dedupe_key_for_employee_and_department_subjects() -> None:
    assert (
        dedupe_key(AlertKind.ENROLLMENT_DEADLINE, employee_id="E042")
        == "enrollment_deadline|employee=E042"
    )
    assert (
        dedupe_key(AlertKind.KPI_BELOW_TARGET, department="Sales", period=Period(2026, 9))
        == "kpi_below_target|department=Sales|period=2026-09"
    )


@pytest.mark.parametrize("kind", list(AlertKind))
def test_only_overdue_and_suspension_are_urgent(kind: AlertKind) -> None:
    finding = Finding(kind=kind, key=dedupe_key(kind, account_id="a"), stage="s")
    assert finding.urgent is (kind in {AlertKind.OVERDUE, AlertKind.SUSPENSION_IMMINENT})
    assert (kind in URGENT_KINDS) is finding.urgent
