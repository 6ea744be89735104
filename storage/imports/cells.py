"""Turn one raw cell into a typed value, or a `CellError` whose text is the user-facing reason.

XLSX cells arrive typed (numbers as int/float, dates as datetime); CSV cells as text. Each
parser accepts both, so the same file saved either way imports the same.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from core.locales import SUPPORTED_LOCALES, normalize_locale
from core.money import CENT
from core.periods import Period
from storage.imports.readers import Cell

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MOBILE_RE = re.compile(r"^\+?\d{5,20}$")
_MOBILE_PUNCTUATION = str.maketrans("", "", " -()")
_DATE_RE = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})$")
_MAX_AMOUNT = Decimal(10) ** 15  # Money stores signed 64-bit cents; stay well inside it
# Currency marks HR sheets carry in front of amounts (after NFKC, full-width ￥ is ¥).
_CURRENCY_MARK = re.compile(r"^([-+]?)\s*(?:HK\$|¥)\s*")


class CellError(ValueError):
    """A cell that cannot be read; the message is the reason shown to the user."""


def is_blank(cell: Cell) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _float_text(value: float) -> str:
    # Excel keeps 15 significant digits (IEEE 754 double), so 1234.5000000000002 from a
    # formula means 1234.5; the shortest repr of the float would keep the noise.
    return format(value, ".15g")


def half_width(text: str) -> str:
    """Full-width digits and signs (１２，０００．５０, typed with a Chinese IME) as ASCII:
    Unicode compatibility form NFKC, which also turns ￥ into ¥."""
    return unicodedata.normalize("NFKC", text) if not text.isascii() else text


def to_text(cell: Cell) -> str:
    """Text of a cell; numeric cells (an employee id typed as 1001) read as their digits."""
    if isinstance(cell, str):  # first: every CSV cell is text
        return cell.strip()
    if isinstance(cell, bool):
        raise CellError(f"expected text, got {cell}")
    if isinstance(cell, float):
        return _float_text(cell)
    if isinstance(cell, int):
        return str(cell)
    raise CellError(f"expected text, got {cell}")


def text(max_length: int) -> Callable[[Cell], str]:
    """A text parser that refuses values longer than the column (PostgreSQL would reject them)."""

    def parse(cell: Cell) -> str:
        value = cell.strip() if isinstance(cell, str) else to_text(cell)  # CSV: text, no call
        if len(value) > max_length:
            raise CellError(f"longer than {max_length} characters")
        return value

    return parse


def exact_text(max_length: int) -> Callable[[Cell], str]:
    """Like `text`, but refuses a decimal number cell: Excel keeps only 15 digits of a number,
    so an 18-digit ID number typed without a leading apostrophe has already lost digits."""
    parse_text = text(max_length)

    def parse(cell: Cell) -> str:
        if isinstance(cell, float):
            raise CellError("is a number cell (digits may be lost); format the column as text")
        return parse_text(cell)

    return parse


def parse_date(cell: Cell) -> date:
    """A date cell, or text `YYYY-MM-DD` / `YYYY/MM/DD` (Chinese Excel shows dates as 2024/3/5)."""
    if isinstance(cell, datetime):
        return cell.date()
    if isinstance(cell, date):
        return cell
    raw = half_width(to_text(cell))
    if len(raw) == 10 and raw[4] == raw[7] == "-" and raw.isascii():
        # The common YYYY-MM-DD, read in C; anything else it refuses goes the long way.
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    match = _DATE_RE.match(raw)
    if match:
        try:
            return date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            pass
    raise CellError(f"bad date {raw!r} (expected YYYY-MM-DD)")


def parse_period(cell: Cell) -> str:
    """A period `YYYY-MM`; a date cell counts as its month (Excel turns a typed 2024-03 into
    the date 2024-03-01)."""
    if isinstance(cell, date):
        return str(Period.of(cell))
    raw = half_width(to_text(cell))
    try:
        return str(Period.parse(raw))
    except ValueError as exc:
        raise CellError(f"bad period {raw!r} (expected YYYY-MM)") from exc


def parse_amount(cell: Cell) -> Decimal:
    """An exact amount with at most two decimals; floats go through text, never kept as floats.

    Text may carry a `¥`/`￥`/`HK$` mark, thousands separators and full-width digits, as
    amounts copied from bank statements and Excel's currency format do (ARCHITECTURE.md §3).
    """
    if isinstance(cell, str) and cell.isdigit() and cell.isascii() and len(cell) < 16:
        return Decimal(cell).quantize(CENT)  # plain digits (most CSV salaries): all checks pass
    if isinstance(cell, bool) or not isinstance(cell, int | float | str):
        raise CellError(f"not a number: {cell}")
    raw = _float_text(cell) if isinstance(cell, float) else str(cell).strip()
    plain = half_width(raw)
    if not plain[:1].isdigit():  # only a sign, a space or a mark can start one
        plain = _CURRENCY_MARK.sub(r"\1", plain)
    try:
        amount = Decimal(plain.replace(",", ""))  # thousands separators, as Excel displays them
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite():
        raise CellError(f"not a number: {raw!r}")
    if abs(amount) >= _MAX_AMOUNT:
        raise CellError(f"amount too large: {raw}")
    cents = amount.quantize(CENT)
    if amount != cents:
        raise CellError(f"more than two decimals: {raw}")
    return cents


def non_negative(cell: Cell) -> Decimal:
    amount = parse_amount(cell)
    if amount < 0:
        raise CellError(f"must not be negative: {amount}")
    return amount


def positive(cell: Cell) -> Decimal:
    amount = parse_amount(cell)
    if amount <= 0:
        raise CellError(f"must be greater than zero: {amount}")
    return amount


def parse_email(cell: Cell) -> str:
    """A work email (what Slack and WeCom look people up by); full-width @ typed by an IME is
    read as @."""
    raw = half_width(to_text(cell))
    if len(raw) > 254 or not _EMAIL_RE.match(raw):
        raise CellError(f"not an email address: {raw!r}")
    return raw


def parse_mobile(cell: Cell) -> str:
    """A mobile number as digits with an optional leading `+` country code: spaces, dashes and
    brackets are dropped (DingTalk's getbymobile wants the bare number)."""
    raw = half_width(to_text(cell))
    number = raw.translate(_MOBILE_PUNCTUATION)
    if not _MOBILE_RE.match(number):
        raise CellError(f"not a mobile number: {raw!r}")
    return number


def locale_parser(cell: Cell) -> str:
    """A reply language, spelled any way `core.locales.normalize_locale` understands."""
    raw = to_text(cell)
    locale = normalize_locale(raw)
    if locale is None:
        expected = ", ".join(SUPPORTED_LOCALES)
        raise CellError(f"unknown locale {raw!r} (expected {expected})")
    return locale


def choice(allowed: Collection[str], aliases: dict[str, str], what: str) -> Callable[[Cell], str]:
    """A parser for one of `allowed` (case-insensitive), also accepting `aliases` (lower-case)."""
    by_key = {value.lower(): value for value in allowed} | aliases

    def parse(cell: Cell) -> str:
        raw = cell.strip() if isinstance(cell, str) else to_text(cell)
        value = by_key.get(raw.lower())
        if value is None:
            expected = ", ".join(allowed) or "none configured"
            raise CellError(f"unknown {what} {raw!r} (expected {expected})")
        return value

    return parse
