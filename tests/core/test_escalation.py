from datetime import UTC, datetime, timedelta

import pytest

from core.escalation import MAX_SNOOZE, escalation_due, parse_duration

OPENED = datetime(2026, 10, 16, 9, 0, tzinfo=UTC)


def due(
    now: datetime,
    *,
    level: int = 0,
    last_escalated_at: datetime | None = None,
    snoozed_until: datetime | None = None,
    max_levels: int = 2,
) -> bool:
    return escalation_due(
        opened_at=OPENED,
        last_escalated_at=last_escalated_at,
        level=level,
        now=now,
        after_minutes=60,
        max_levels=max_levels,
        snoozed_until=snoozed_until,
    )


def test_escalates_once_unacknowledged_for_the_configured_time() -> None:
    assert not due(OPENED)
    assert not due(OPENED + timedelta(minutes=59, seconds=59))
    assert due(OPENED + timedelta(minutes=60))
    assert due(OPENED + timedelta(hours=5))


def test_each_level_waits_the_full_time_since_the_last_escalation() -> None:
    escalated = OPENED + timedelta(minutes=75)
    assert not due(escalated + timedelta(minutes=30), level=1, last_escalated_at=escalated)
    assert due(escalated + timedelta(minutes=60), level=1, last_escalated_at=escalated)


def test_never_beyond_the_last_level() -> None:
    later = OPENED + timedelta(days=1)
    assert not due(later, level=2, last_escalated_at=OPENED + timedelta(hours=2))
    assert not due(later, level=0, max_levels=0)


def test_never_while_snoozed_and_the_clock_restarts_when_the_snooze_ends() -> None:
    until = OPENED + timedelta(hours=4)
    assert not due(OPENED + timedelta(hours=3), snoozed_until=until)
    assert not due(until, snoozed_until=until)
    assert not due(until + timedelta(minutes=59), snoozed_until=until)
    assert due(until + timedelta(minutes=60), snoozed_until=until)
    # A snooze that ended before the last escalation does not delay the next one.
    escalated = until + timedelta(hours=1)
    assert due(
        escalated + timedelta(hours=1), level=1, last_escalated_at=escalated, snoozed_until=until
    )


def test_after_minutes_must_be_positive() -> None:
    with pytest.raises(ValueError, match="after_minutes"):
        escalation_due(
            opened_at=OPENED,
            last_escalated_at=None,
            level=0,
            now=OPENED,
            after_minutes=0,
            max_levels=2,
            snoozed_until=None,
        )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4h", timedelta(hours=4)),
        ("30m", timedelta(minutes=30)),
        ("90m", timedelta(minutes=90)),
        ("1d", timedelta(days=1)),
        (" 2H ", timedelta(hours=2)),
        ("7d", MAX_SNOOZE),
        ("168h", MAX_SNOOZE),
        ("45min", timedelta(minutes=45)),
        ("4小时", timedelta(hours=4)),
        ("30分钟", timedelta(minutes=30)),
        ("2天", timedelta(days=2)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "such as 30m, 4h or 1d"),
        ("4", "such as 30m, 4h or 1d"),
        ("4 hours", "such as 30m, 4h or 1d"),
        ("1h30m", "such as 30m, 4h or 1d"),
        ("-1h", "such as 30m, 4h or 1d"),
        ("1.5h", "such as 30m, 4h or 1d"),
        ("0m", "longer than zero"),
        ("8d", "at most 7 days"),
        ("10081m", "at most 7 days"),
    ],
)
def test_parse_duration_refuses_bad_text_with_the_usage(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_duration(text)


def test_parse_duration_takes_a_longer_limit_for_silences() -> None:
    assert parse_duration("14d", longest=timedelta(days=31)) == timedelta(days=14)
    with pytest.raises(ValueError, match="at most 31 days"):
        parse_duration("32d", longest=timedelta(days=31))
