"""Rounding modes and money parsing: exact Decimal, never float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, Inexact, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.money import (
    Rounding,
    display_amount,
    format_amount,
    format_cents,
    from_cents,
    round_amount,
    round_cents,
    to_cents,
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


# A rate with d decimals is an integer fraction over 2^a·5^b (`Decimal.as_integer_ratio`
# reduces 10^d), so these are the denominators `round_cents` gets from a dues run.
DENOMINATORS = st.builds(
    lambda twos, fives: 2**twos * 5**fives, st.integers(0, 8), st.integers(0, 8)
)


@st.composite
def _fractions(draw: st.DrawFn) -> tuple[int, int]:
    """`(numerator, denominator)`, often just on, below or above a rounding boundary."""
    denominator = draw(DENOMINATORS)
    cents = draw(st.integers(min_value=-(10**10), max_value=10**10))
    if draw(st.booleans()):  # an exact number of cents, half a cent, a jiao, a yuan
        cents = cents // 100 * 100 + draw(st.sampled_from([0, 1, 5, 9, 10, 49, 50, 51, 99]))
        step = denominator // 2 if draw(st.booleans()) else 0
        nudge = draw(st.sampled_from([-1, 0, 1]))
        return cents * denominator + step + nudge, denominator
    return cents * denominator + draw(st.integers(0, denominator - 1)), denominator


@given(fraction=_fractions(), rounding=st.sampled_from(Rounding))
def test_round_cents_is_round_amount_in_integers(
    fraction: tuple[int, int], rounding: Rounding
) -> None:
    numerator, denominator = fraction
    with localcontext() as context:
        context.traps[Inexact] = True  # the reference amount must be exact, or the test is void
        amount = Decimal(numerator) / denominator / 100
    assert round_cents(numerator, denominator, rounding) == to_cents(round_amount(amount, rounding))


@pytest.mark.parametrize(
    ("numerator", "denominator", "rounding", "expected"),
    [
        (12345, 10, Rounding.HALF_UP_CENT, 1235),  # 1234.5 cents: the half goes up
        (-12345, 10, Rounding.HALF_UP_CENT, -1235),  # ... away from zero
        (12344_999, 10_000, Rounding.HALF_UP_CENT, 1234),
        (12301, 10, Rounding.JIAN_FEN_JIN_JIAO, 1230),  # 1230.1 cents is 1230: no cent seen
        (12305, 10, Rounding.JIAN_FEN_JIN_JIAO, 1240),  # 1230.5 is 1231: a cent carries a jiao
        (-12315, 10, Rounding.JIAN_FEN_JIN_JIAO, -1230),  # ceiling: towards +infinity
        (1250, 1, Rounding.HALF_UP_YUAN, 1300),
        (1249_999, 1000, Rounding.HALF_UP_YUAN, 1200),
        (-1250, 1, Rounding.HALF_UP_YUAN, -1300),
        (12349, 10, Rounding.TRUNCATE_CENT, 1234),
        (-12349, 10, Rounding.TRUNCATE_CENT, -1234),  # towards zero
    ],
)
def test_round_cents_per_mode(
    numerator: int, denominator: int, rounding: Rounding, expected: int
) -> None:
    assert round_cents(numerator, denominator, rounding) == expected


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_cents_and_amounts_convert_exactly(cents: int) -> None:
    amount = from_cents(cents)
    assert amount == Decimal(cents) / 100
    assert amount.as_tuple().exponent == -2
    assert to_cents(amount) == cents


def test_to_cents_refuses_floats_and_fractions_of_a_cent() -> None:
    assert to_cents(Decimal("12.3")) == 1230
    with pytest.raises(ValueError, match="more than two decimals"):
        to_cents(Decimal("0.001"))
    with pytest.raises(TypeError, match="float"):
        to_cents(0.5)  # type: ignore[arg-type]


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
