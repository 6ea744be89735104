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
