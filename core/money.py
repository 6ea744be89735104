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
