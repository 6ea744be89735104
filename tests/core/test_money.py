"""Rounding modes and money parsing: exact Decimal, never float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.money import (
    Rounding,
    display_amount,
    format_amount,
    format_cents,
    round_amount,
    to_decimal,
)


@pytest.mark.parametrize(
    ("amount", "rounding", "expected"),
    [
        ("12.345", Rounding.HALF_UP_CENT, "12.35"),
        ("12.344", Rounding.HALF_UP_CENT, "12.34"),
        ("12.301", Rounding.JIAN_FEN_JIN_JIAO, "12.30"),
        ("12.305", Rounding.JIAN_FEN_JIN_JIAO, "12.40"),
        ("12.31", Rounding.JIAN_FEN_JIN_JIAO, "12.40"),
        ("12.30", Rounding.JIAN_FEN_JIN_JIAO, "12.30"),
        ("12.50", Rounding.HALF_UP_YUAN, "13.00"),
        ("12.49", Rounding.HALF_UP_YUAN, "12.00"),
        ("12.349", Rounding.TRUNCATE_CENT, "12.34"),
        ("12.3", Rounding.TRUNCATE_CENT, "12.30"),
    ],
)
def test_each_rounding_mode(amount: str, rounding: Rounding, expected: str) -> None:
    result = round_amount(Decimal(amount), rounding)
    assert str(result) == expected


def test_every_mode_yields_two_decimals() -> None:
    for rounding in Rounding:
        assert round_amount(Decimal("7"), rounding).as_tuple().exponent == -2


def test_to_decimal_refuses_floats_and_garbage() -> None:
    assert to_decimal(" 1,234.50 ") == Decimal("1234.50")
    assert to_decimal(12) == Decimal(12)
    with pytest.raises(TypeError, match="float"):
        to_decimal(0.1)
    with pytest.raises(ValueError, match="not an amount"):
        to_decimal("twelve")


def test_format_amount_gives_the_contract_string() -> None:
    assert format_amount(Decimal("1234.5")) == "1234.50"
    assert format_amount(Decimal("0.005")) == "0.01"
    assert format_amount(Decimal("3"), decimals=0) == "3"


@given(
    st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**12), max_value=10**12),
    st.integers(min_value=0, max_value=4),
)
def test_format_amount_at_its_precision_is_the_quantized_text(
    amount: Decimal, decimals: int
) -> None:
    exact = amount.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    assert format_amount(amount, decimals) == f"{exact:.{decimals}f}"
    assert format_amount(exact, decimals) == f"{exact:.{decimals}f}"  # the `str` path


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_format_cents_is_the_text_of_the_amount_they_stand_for(cents: int) -> None:
    assert format_cents(cents) == format_amount(Decimal(cents) / 100)


def test_format_cents_keeps_two_decimals_and_the_sign() -> None:
    assert [format_cents(c) for c in (0, 7, -5, 100, -123456)] == [
        "0.00",
        "0.07",
        "-0.05",
        "1.00",
        "-1234.56",
    ]


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("641498.09", "CNY", "¥641,498.09"),
        ("41076", "HKD", "HK$41,076.00"),
        ("-3.005", "CNY", "-¥3.01"),
        ("0", "CNY", "¥0.00"),
        ("1234567.5", "SGD", "SGD 1,234,567.50"),
    ],
)
def test_display_amount_writes_money_as_people_do(
    amount: str, currency: str, expected: str
) -> None:
    assert display_amount(Decimal(amount), currency) == expected
