"""core.oncall: the rotation at shift boundaries, round-robin, and overrides."""

from __future__ import annotations

from datetime import date

import pytest

from core.oncall import Rotation

START = date(2026, 12, 7)
ROTA = Rotation(members=("A", "B", "C"), shift_days=7, starts_on=START)


@pytest.mark.parametrize(
    ("day", "member"),
    [
        (date(2026, 12, 6), None),  # before the rotation starts
        (START, "A"),
        (date(2026, 12, 13), "A"),  # last day of A's shift
        (date(2026, 12, 14), "B"),  # starts_on + 1·7
        (date(2026, 12, 21), "C"),
        (date(2026, 12, 28), "A"),  # round-robin
    ],
)
def test_member_k_is_on_call_from_starts_on_plus_k_shifts(day: date, member: str | None) -> None:
    assert ROTA.on_call(day) == member


def test_an_override_wins_for_its_day_only() -> None:
    swapped = Rotation(members=ROTA.members, starts_on=START, overrides={date(2026, 12, 10): "C"})
    assert swapped.on_call(date(2026, 12, 10)) == "C"
    assert swapped.on_call(date(2026, 12, 11)) == "A"
    assert swapped.next_change(date(2026, 12, 9)) == (date(2026, 12, 10), "C")
    assert swapped.next_change(date(2026, 12, 10)) == (date(2026, 12, 11), "A")


def test_next_change_is_the_next_shift() -> None:
    assert ROTA.next_change(date(2026, 12, 9)) == (date(2026, 12, 14), "B")
    assert Rotation().on_call(START) is None and Rotation().next_change(START) is None
    with pytest.raises(ValueError, match="shift_days"):
        Rotation(members=("A",), shift_days=0, starts_on=START)


@pytest.mark.parametrize(
    ("day", "start"),
    [
        (date(2026, 12, 6), None),  # nobody on call yet
        (START, START),
        (date(2026, 12, 13), START),  # the shift's last day
        (date(2026, 12, 14), date(2026, 12, 14)),  # B's shift begins at the boundary
        (date(2026, 12, 20), date(2026, 12, 14)),
    ],
)
def test_shift_start_is_the_first_day_of_the_members_shift(day: date, start: date | None) -> None:
    assert ROTA.shift_start(day) == start


def test_a_one_member_rotation_still_has_shifts() -> None:
    alone = Rotation(members=("A",), shift_days=7, starts_on=START)
    assert alone.shift_start(date(2026, 12, 13)) == START
    assert alone.shift_start(date(2026, 12, 14)) == date(2026, 12, 14)


def test_an_override_is_a_shift_of_its_own_and_the_member_comes_back_to_a_new_one() -> None:
    swapped = Rotation(members=ROTA.members, starts_on=START, overrides={date(2026, 12, 10): "C"})
    assert swapped.shift_start(date(2026, 12, 10)) == date(2026, 12, 10)
    assert swapped.shift_start(date(2026, 12, 12)) == date(2026, 12, 11)
    only = Rotation(overrides={date(2026, 12, 24): "E", date(2026, 12, 25): "E"})
    assert only.shift_start(date(2026, 12, 25)) == date(2026, 12, 24)
