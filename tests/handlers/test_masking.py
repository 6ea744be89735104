"""Masking of ID numbers and salaries (ARCHITECTURE.md §2, §3 employees file)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from handlers.masking import mask_amount, mask_id_number, may_reveal
from storage.models import Employee


def person(employee_id: str, role: str = "employee") -> Employee:
    return Employee(
        employee_id=employee_id,
        name=employee_id,
        account_id="beijing",
        hire_date=date(2024, 1, 1),
        salary=Decimal("12000"),
        role=role,
    )


def test_id_number_keeps_first_six_and_last_four() -> None:
    assert mask_id_number("110101199001011234") == "110101********1234"


def test_id_number_with_a_letter_check_digit() -> None:
    assert mask_id_number(" 11010119900101123X ") == "110101********123X"


@pytest.mark.parametrize("short", ["", "1234", "1234567890"])
def test_short_values_are_masked_entirely(short: str) -> None:
    assert mask_id_number(short) == "*" * len(short)


def test_amounts_are_masked_without_a_trace_of_the_figure() -> None:
    assert mask_amount(Decimal("12345.67")) == "***"


def test_owner_sees_own_figures_only_in_a_direct_chat() -> None:
    me = person("E1")
    assert may_reveal(viewer=me, owner=me, is_direct=True)
    assert not may_reveal(viewer=me, owner=me, is_direct=False)


def test_hr_sees_others_only_in_a_direct_chat_and_others_never() -> None:
    owner = person("E1")
    assert may_reveal(viewer=person("H1", "hr"), owner=owner, is_direct=True)
    assert not may_reveal(viewer=person("H1", "hr"), owner=owner, is_direct=False)
    for role in ("employee", "manager", "finance"):
        assert not may_reveal(viewer=person("X", role), owner=owner, is_direct=True)
