"""Exact money: Decimal amounts and the rounding modes payroll systems use.

There is no national rounding rule in China; payroll systems make it a per-item setting,
so the mode is policy data per scheme (shared/reference/policies.md, "Rounding").
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum

CENT = Decimal("0.01")
JIAO = Decimal("0.1")
YUAN = Decimal("1")
ZERO = Decimal("0")


class Rounding(StrEnum):
    HALF_UP_CENT = "half_up_cent"
    """Half-up to the cent: the common default."""
    JIAN_FEN_JIN_JIAO = "jian_fen_jin_jiao"
    """见分进角: any cent rounds up to the next 0.1 (historic Shanghai practice)."""
    HALF_UP_YUAN = "half_up_yuan"
    """Half-up to the whole yuan (common for the housing fund)."""
    TRUNCATE_CENT = "truncate_cent"
    """Truncation to the cent."""


def round_amount(amount: Decimal, rounding: Rounding) -> Decimal:
    """Round an amount by a policy's mode; the result always carries two decimals."""
    if rounding is Rounding.HALF_UP_CENT:
        return amount.quantize(CENT, rounding=ROUND_HALF_UP)
    if rounding is Rounding.JIAN_FEN_JIN_JIAO:
        # The amount is first taken to the cent; any cent then "is seen" and carries a jiao.
        in_cents = amount.quantize(CENT, rounding=ROUND_HALF_UP)
        return in_cents.quantize(JIAO, rounding=ROUND_CEILING).quantize(CENT)
    if rounding is Rounding.HALF_UP_YUAN:
        return amount.quantize(YUAN, rounding=ROUND_HALF_UP).quantize(CENT)
    return amount.quantize(CENT, rounding=ROUND_DOWN)


def round_cents(numerator: int, denominator: int, rounding: Rounding) -> int:
    """`round_amount` in integer arithmetic: the cents it gives for `numerator / denominator`
    cents (a base in cents times a rate as an integer fraction). `denominator` > 0.

    A dues run rounds two amounts on each of 350,000 ledger lines; this is the same number at
    a third of `quantize`'s cost, and no Decimal is made for an amount stored as cents
    (tests/core/test_money.py compares the two over every mode).
    """
    if rounding is Rounding.HALF_UP_CENT:
        return _half_up(numerator, denominator)
    if rounding is Rounding.JIAN_FEN_JIN_JIAO:
        return -(-_half_up(numerator, denominator) // 10) * 10  # ROUND_CEILING to the jiao
    if rounding is Rounding.HALF_UP_YUAN:
        return _half_up(numerator, denominator * 100) * 100
    if numerator >= 0:  # ROUND_DOWN: toward zero
        return numerator // denominator
    return -(-numerator // denominator)


def _half_up(numerator: int, denominator: int) -> int:
    """`numerator / denominator` to the nearest integer, halves away from zero (ROUND_HALF_UP)."""
    if numerator >= 0:
        return (2 * numerator + denominator) // (2 * denominator)
    return -((denominator - 2 * numerator) // (2 * denominator))


_CENTS = Decimal(100)


def to_cents(amount: Decimal) -> int:
    """An amount as the integer cents the ledger stores (`storage.types.Money`).

    Raises ValueError for an amount with more than two decimals, TypeError for a float.
    """
    if isinstance(amount, float):
        raise TypeError("money must not be a float")
    cents = Decimal(amount) * _CENTS
    if cents != cents.to_integral_value():
        raise ValueError(f"amount has more than two decimals: {amount}")
    return int(cents)


def from_cents(cents: int) -> Decimal:
    """Integer cents as the amount, at two decimals: 123456 -> Decimal('1234.56')."""
    # Exactly `cents / 100` quantized to the cent, at a third of its cost (a report reads
    # three amounts a line, millions of lines).
    return Decimal(cents).scaleb(-2)


def to_decimal(value: object) -> Decimal:
    """Convert text or int to Decimal; floats are refused, they cannot hold money exactly."""
    if isinstance(value, float):
        raise TypeError("money must not be a float")
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc


_QUANTA = {decimals: Decimal(1).scaleb(-decimals) for decimals in range(5)}


def format_amount(amount: Decimal, decimals: int = 2) -> str:
    """Amount as the contract's JSON string, e.g. Decimal('1234.5') -> '1234.50'.

    An amount already at that precision (every stored `Money` value) is its own text: `str`
    costs an eighth of quantizing and formatting, a million times over in a report.
    """
    quantum = _QUANTA.get(decimals) or Decimal(1).scaleb(-decimals)
    if amount.same_quantum(quantum):
        return str(amount)
    return f"{amount.quantize(quantum, rounding=ROUND_HALF_UP):.{decimals}f}"


def format_cents(cents: int) -> str:
    """Integer cents (how the ledger stores an amount) as `format_amount` writes the amount:
    123456 -> '1234.56', -5 -> '-0.05'. Integer arithmetic, no Decimal: a report formats four
    amounts a line, millions of lines. (printf-style: 0.35 us a call against the f-string's 0.52.)
    """
    if cents >= 0:
        return "%d.%02d" % divmod(cents, 100)  # noqa: UP031
    return "-%d.%02d" % divmod(-cents, 100)  # noqa: UP031


CURRENCY_SYMBOLS = {"CNY": "¥", "HKD": "HK$", "USD": "US$", "EUR": "€", "GBP": "£"}
"""How people write a currency in front of an amount; others get their ISO code and a space."""


def display_amount(amount: Decimal, currency: str, decimals: int = 2) -> str:
    """An amount as people write it in chat: `¥641,498.09`, `HK$41,076.00`, `-¥3.00`.

    JSON keeps the plain contract string (`format_amount`); this is for reading only.
    """
    quantized = amount.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    sign = "-" if quantized < 0 else ""
    symbol = CURRENCY_SYMBOLS.get(currency, f"{currency} ")
    return f"{sign}{symbol}{abs(quantized):,.{decimals}f}"
