"""Silence matchers, the urgent-kind rule, bounds, and when a silence ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.alerts import AlertKind
from core.silences import (
    MAX_SILENCE,
    Silence,
    SilenceError,
    new_silence,
    silence_end,
    silenced_until,
)

NOW = datetime(2026, 10, 20, 2, tzinfo=UTC)
DAY = timedelta(days=1)


def matches(silence: Silence, kind: AlertKind, account: str = "shanghai", alert: int = 7) -> bool:
    return silence.matches(alert_id=alert, kind=kind, account_id=account)


def test_every_given_matcher_must_match() -> None:
    both = new_silence(now=NOW, duration=DAY, account_id="shanghai", kind=AlertKind.DUE_SOON)
    assert matches(both, AlertKind.DUE_SOON)
    assert not matches(both, AlertKind.DUE_SOON, account="hk")
    assert not matches(both, AlertKind.FUNDING_GAP)
    one = new_silence(now=NOW, duration=DAY, alert_id=7)
    assert matches(one, AlertKind.FUNDING_GAP) and not matches(one, AlertKind.FUNDING_GAP, alert=8)


def test_urgent_kinds_are_silenced_only_by_naming_their_kind() -> None:
    account = new_silence(now=NOW, duration=DAY, account_id="shanghai")
    assert matches(account, AlertKind.DUE_SOON)
    assert not matches(account, AlertKind.OVERDUE)
    assert not matches(account, AlertKind.SUSPENSION_IMMINENT)
    named = new_silence(now=NOW, duration=DAY, account_id="shanghai", kind=AlertKind.OVERDUE)
    assert matches(named, AlertKind.OVERDUE)
    with pytest.raises(SilenceError, match="overdue is urgent"):
        new_silence(now=NOW, duration=DAY, alert_id=7, alert_kind=AlertKind.OVERDUE)
    by_id = new_silence(
        now=NOW, duration=DAY, alert_id=7, kind=AlertKind.OVERDUE, alert_kind=AlertKind.OVERDUE
    )
    assert matches(by_id, AlertKind.OVERDUE)


@pytest.mark.parametrize("duration", [timedelta(0), MAX_SILENCE + timedelta(minutes=1)])
def test_a_silence_lasts_more_than_zero_and_at_most_the_maximum(duration: timedelta) -> None:
    with pytest.raises(SilenceError, match="at most 31 days"):
        new_silence(now=NOW, duration=duration, account_id="shanghai")


def test_a_silence_names_something() -> None:
    with pytest.raises(SilenceError, match="an account, a kind or an alert"):
        new_silence(now=NOW, duration=DAY)


def test_a_silence_ends_by_itself_and_its_end_is_remembered() -> None:
    silence = new_silence(now=NOW, duration=3 * DAY, account_id="shanghai")
    facts = {"alert_id": 7, "kind": AlertKind.DUE_SOON, "account_id": "shanghai"}
    assert silenced_until([silence], **facts, now=NOW + DAY) == NOW + 3 * DAY
    assert silenced_until([silence], **facts, now=NOW + 3 * DAY) is None
    assert silence_end([silence], **facts, now=NOW + 4 * DAY) == NOW + 3 * DAY
    # Not yet started: neither silenced nor an end to count from.
    assert silence_end([silence], **facts, now=NOW - DAY) is None
    other = {"alert_id": 8, "kind": AlertKind.DUE_SOON, "account_id": "hk"}
    assert silenced_until([silence], **other, now=NOW + DAY) is None


def test_the_latest_matching_silence_wins() -> None:
    short = new_silence(now=NOW, duration=DAY, kind=AlertKind.DUE_SOON)
    long = new_silence(now=NOW, duration=2 * DAY, account_id="shanghai")
    facts = {"alert_id": 7, "kind": AlertKind.DUE_SOON, "account_id": "shanghai"}
    assert silenced_until([short, long], **facts, now=NOW) == NOW + 2 * DAY
