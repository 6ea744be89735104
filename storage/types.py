"""Column types that keep money exact on SQLite and PostgreSQL alike.

SQLite has no decimal type (NUMERIC affinity stores doubles), so money is stored as an
integer number of cents on every backend: sums in SQL stay exact, and Python sees `Decimal`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from core.money import from_cents, to_cents


class Money(TypeDecorator[Decimal]):
    """A Decimal with at most two decimals, stored as integer cents."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> int | None:
        return None if value is None else to_cents(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else from_cents(int(value))


class ExactDecimal(TypeDecorator[Decimal]):
    """A Decimal of any precision (rates such as 0.0020), stored as its exact text."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("rates must not be floats")
        return str(Decimal(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)
