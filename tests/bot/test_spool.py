"""The local spool of acked events kept through a database outage: bounded, replayed in order."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from bot.spool import Spool
from storage.inbound import NewEvent

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def item(number: int) -> NewEvent:
    return NewEvent(
        platform="slack", event_id=f"Ev{number}", user_key="slack:U1", payload="{}" * number
    )


def test_past_its_bound_the_spool_refuses_and_keeps_what_it_has(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.jsonl", max_bytes=300)
    kept = [spool.append(item(number), NOW) for number in range(1, 6)]
    assert kept[:2] == [True, True] and not all(kept)
    size = spool.path.stat().st_size
    assert size <= 300
    assert not spool.append(item(50), NOW)
    assert spool.path.stat().st_size == size


def test_a_replay_writes_in_order_and_an_outage_midway_keeps_the_rest(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.jsonl", max_bytes=64 * 1024)
    for number in range(1, 5):
        assert spool.append(item(number), NOW)
    written: list[str] = []

    def admit_two_then_fail(event: NewEvent, received_at: datetime) -> bool:
        if len(written) == 2:
            raise OperationalError("INSERT", {}, Exception("gone again"))
        assert received_at == NOW
        written.append(event.event_id)
        return True

    with pytest.raises(OperationalError):
        spool.replay(admit_two_then_fail)
    assert written == ["Ev1", "Ev2"] and spool.pending()
    rest: list[str] = []
    assert spool.replay(lambda event, _: rest.append(event.event_id)) == 2
    assert rest == ["Ev3", "Ev4"]
    assert not spool.pending()


def test_the_spool_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    """It holds chat texts and Slack response URLs (docs/SECURITY.md, "Files")."""
    spool = Spool(tmp_path / "spool.jsonl", max_bytes=64 * 1024)
    for number in range(1, 4):
        assert spool.append(item(number), NOW)
    assert stat.S_IMODE(spool.path.stat().st_mode) == 0o600

    def admit_one_then_fail(event: NewEvent, _: datetime) -> bool:
        if event.event_id != "Ev1":
            raise OperationalError("INSERT", {}, Exception("gone again"))
        return True

    with pytest.raises(OperationalError):
        spool.replay(admit_one_then_fail)  # the rest is rewritten through a temporary file
    assert spool.pending()
    assert stat.S_IMODE(spool.path.stat().st_mode) == 0o600
