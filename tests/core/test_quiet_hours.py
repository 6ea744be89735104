from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.quiet_hours import QuietHours

NIGHT = QuietHours.parse("22:00-08:00")
LUNCH = QuietHours.parse("12:00-13:30")
SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC_ZONE = ZoneInfo("UTC")


def test_parse_keeps_the_window() -> None:
    assert NIGHT.window == (time(22, 0), time(8, 0))
    assert NIGHT.enabled


@pytest.mark.parametrize("text", ["", "  "])
def test_empty_text_disables_quiet_hours(text: str) -> None:
    disabled = QuietHours.parse(text)
    at = datetime(2026, 10, 10, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
    assert not disabled.enabled
    assert not disabled.contains(time(23, 0))
    assert disabled.next_allowed(at, SHANGHAI) == at


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("25:00-08:00", "HH:MM-HH:MM"),
        ("22-08", "HH:MM-HH:MM"),
        ("22:00 to 08:00", "HH:MM-HH:MM"),
        ("night", "got 'night'"),
        ("08:00-08:00", "start and end are equal"),
    ],
)
def test_bad_text_is_refused_with_the_expected_form(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        QuietHours.parse(text)


@pytest.mark.parametrize(
    ("quiet", "wall", "inside"),
    [
        (NIGHT, time(21, 59), False),
        (NIGHT, time(22, 0), True),  # start inclusive
        (NIGHT, time(23, 59, 59), True),
        (NIGHT, time(0, 0), True),  # across midnight
        (NIGHT, time(7, 59), True),
        (NIGHT, time(8, 0), False),  # end exclusive
        (NIGHT, time(12, 0), False),
        (LUNCH, time(11, 59), False),
        (LUNCH, time(12, 0), True),
        (LUNCH, time(13, 29), True),
        (LUNCH, time(13, 30), False),
        (LUNCH, time(23, 0), False),
    ],
)
def test_contains(quiet: QuietHours, wall: time, inside: bool) -> None:
    assert quiet.contains(wall) is inside


@pytest.mark.parametrize(
    ("at", "tz", "allowed"),
    [
        # 23:00 in Shanghai (UTC+8): held until 08:00 Shanghai the next morning = 00:00 UTC.
        (datetime(2026, 10, 10, 15, 0), SHANGHAI, datetime(2026, 10, 11, 0, 0)),
        # 02:30 in Shanghai, after midnight: held until 08:00 the same local morning.
        (datetime(2026, 10, 10, 18, 30), SHANGHAI, datetime(2026, 10, 11, 0, 0)),
        # 09:00 in Shanghai: working time, sent at once.
        (datetime(2026, 10, 10, 1, 0), SHANGHAI, datetime(2026, 10, 10, 1, 0)),
        # The same instant for a recipient on UTC is 15:00: sent at once.
        (datetime(2026, 10, 10, 15, 0), UTC_ZONE, datetime(2026, 10, 10, 15, 0)),
        # 23:00 UTC for the UTC recipient: held until 08:00 UTC.
        (datetime(2026, 10, 10, 23, 0), UTC_ZONE, datetime(2026, 10, 11, 8, 0)),
        # 08:00 sharp local is working time again.
        (datetime(2026, 10, 11, 0, 0), SHANGHAI, datetime(2026, 10, 11, 0, 0)),
    ],
)
def test_next_allowed_in_the_recipients_timezone(
    at: datetime, tz: ZoneInfo, allowed: datetime
) -> None:
    result = NIGHT.next_allowed(at.replace(tzinfo=UTC), tz)
    assert result == allowed.replace(tzinfo=UTC)
    assert result.utcoffset() == timedelta(0)


def test_held_result_is_in_utc_even_for_a_local_input() -> None:
    at = datetime(2026, 10, 10, 23, 0, tzinfo=SHANGHAI)
    result = NIGHT.next_allowed(at, SHANGHAI)
    assert result.tzinfo is UTC
    assert result == datetime(2026, 10, 11, 0, 0, tzinfo=UTC)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        NIGHT.next_allowed(datetime(2026, 10, 10, 23, 0), SHANGHAI)


ZONES = st.sampled_from(
    [SHANGHAI, UTC_ZONE, ZoneInfo("Europe/London"), ZoneInfo("America/New_York")]
)
INSTANTS = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)


@given(at=INSTANTS, tz=ZONES, quiet=st.sampled_from([NIGHT, LUNCH]))
def test_next_allowed_is_the_first_moment_outside_the_window(
    at: datetime, tz: ZoneInfo, quiet: QuietHours
) -> None:
    result = quiet.next_allowed(at, tz)
    assert result >= at
    assert not quiet.contains(result.astimezone(tz).time())
    # Never held longer than the window itself (10 h at night, 1.5 h at lunch, DST aside).
    assert result - at <= timedelta(hours=11)
    if not quiet.contains(at.astimezone(tz).time()):
        assert result == at
    else:
        assert quiet.window is not None
        assert result.astimezone(tz).time() == quiet.window[1]
