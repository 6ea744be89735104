"""Load and validate the policy files `core/policies/<id>.toml` into `core.policy.Policy`.

This is the one place in core that reads files: policies are packaged data, and a wrong
figure must stop start-up with a message naming the file, the version and the key, rather
than silently mis-compute a month of dues. The schema is documented in
`core/policies/README.md`. TOML floats are parsed as `Decimal`, so `0.098` stays exact.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from core.money import Rounding
from core.policy import (
    DueRule,
    HolidayRule,
    LateFeeCap,
    LateFeeModel,
    LateFeeRule,
    Policy,
    PolicyVersion,
    Scheme,
    SchemeRule,
    SuspensionRule,
)

POLICY_DIR = Path(__file__).with_name("policies")
_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
_E = TypeVar("_E", bound=StrEnum)
_T = TypeVar("_T", bool, str)
_TYPE_LABELS: dict[type, str] = {bool: "true or false", str: "text"}

_TOP_KEYS = {
    "name", "names", "currency", "decimals", "source", "tags", "due", "late_fee", "suspension",
    "versions",
}  # fmt: skip
_SCHEME_IDS = {scheme.value for scheme in Scheme}
_VERSION_KEYS = {"effective", "until", "confirmed", "provisional", "source", "note", "schemes"}
_SCHEME_KEYS = {
    "floor", "ceiling", "employer_rate", "employee_rate", "employer_fixed", "employee_fixed",
    "rounding", "employer_rate_min", "employer_rate_max", "employee_exempt_below", "optional",
}  # fmt: skip


_ENUM_LABELS: dict[type[StrEnum], str] = {
    Rounding: "rounding mode",
    HolidayRule: "holiday rule",
    LateFeeModel: "late-fee model",
    LateFeeCap: "late-fee cap",
}


class PolicyError(ValueError):
    """A policy file that cannot be trusted; the message names file, version and key."""


@dataclass(frozen=True)
class _Where:
    """Where in which file a value sits, so every message says file, version and key."""

    file: str
    version: str | None = None
    prefix: str = ""

    def at(self, *, version: str | None = None, prefix: str = "") -> _Where:
        return _Where(self.file, version or self.version, prefix)

    def error(self, key: str, problem: str) -> PolicyError:
        place = self.file if self.version is None else f"{self.file}, version {self.version}"
        return PolicyError(f"{place}, key {self.prefix}{key}: {problem}")


_MISSING: Any = object()


def _value(data: Mapping[str, Any], key: str, where: _Where, default: Any) -> Any:
    value = data.get(key, default)
    if value is _MISSING:
        raise where.error(key, "missing")
    return value


def _table(data: Mapping[str, Any], key: str, where: _Where) -> dict[str, Any]:
    value = _value(data, key, where, _MISSING)
    if not isinstance(value, dict):
        raise where.error(key, "must be a table")
    return value


def _no_unknown_keys(data: Mapping[str, Any], allowed: set[str], where: _Where) -> None:
    for key in data:
        if key not in allowed:
            raise where.error(key, f"unknown key (expected one of {', '.join(sorted(allowed))})")


def _decimal(
    data: Mapping[str, Any], key: str, where: _Where, default: Any = _MISSING, rate: bool = False
) -> Decimal:
    """A non-negative number; with `rate`, a fraction of the base (0.16 is 16 %) up to 1."""
    value = _value(data, key, where, default)
    try:
        if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
            raise InvalidOperation
        number = Decimal(str(value))
    except InvalidOperation:
        raise where.error(key, f"must be a number, got {value!r}") from None
    if not number.is_finite() or number < 0:
        raise where.error(key, f"must be a finite number, not negative, got {value!r}")
    if rate and number > 1:
        raise where.error(key, f"rate must be between 0 and 1 (0-100 %), got {number}")
    return number


def _int(
    data: Mapping[str, Any], key: str, where: _Where, high: int, default: Any = _MISSING
) -> int:
    value = _value(data, key, where, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise where.error(key, f"must be a whole number 0..{high}, got {value!r}")
    return value


def _typed(data: Mapping[str, Any], key: str, where: _Where, kind: type[_T], default: Any) -> _T:
    value = _value(data, key, where, default)
    if not isinstance(value, kind):
        raise where.error(key, f"must be {_TYPE_LABELS[kind]}, got {value!r}")
    return value


def _date(value: object, key: str, where: _Where) -> date:
    """A TOML local date (`2025-07-01`) or the same as a string; never a date-time."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise where.error(key, f"bad date {value!r} (expected YYYY-MM-DD)")


def _enum(data: Mapping[str, Any], key: str, where: _Where, kind: type[_E], default: Any) -> _E:
    value = _value(data, key, where, default)
    try:
        return kind(value)
    except ValueError:
        expected = ", ".join(member.value for member in kind)
        problem = f"unknown {_ENUM_LABELS[kind]} {value!r} (expected one of {expected})"
        raise where.error(key, problem) from None


def _scheme_rule(scheme: Scheme, data: Mapping[str, Any], where: _Where) -> SchemeRule:
    """One scheme's band, rates, add-ons and rounding.

    A scheme with an employer range (injury class, housing fund) may omit its rates: they
    default to the range minimum, and the account's configured rate replaces them. A
    fixed-only scheme (both rates 0, e.g. Beijing's 3-yuan add-on) needs no band.
    """
    _no_unknown_keys(data, _SCHEME_KEYS, where)
    low = high = None
    if "employer_rate_min" in data or "employer_rate_max" in data:
        low = _decimal(data, "employer_rate_min", where, rate=True)
        high = _decimal(data, "employer_rate_max", where, rate=True)
        if low > high:
            raise where.error("employer_rate_min", f"{low} is above employer_rate_max {high}")
    rate_default = _MISSING if low is None else low
    employer_rate = _decimal(data, "employer_rate", where, rate_default, rate=True)
    employee_rate = _decimal(data, "employee_rate", where, rate_default, rate=True)
    if low is not None and high is not None and not low <= employer_rate <= high:
        raise where.error("employer_rate", f"{employer_rate} outside {low}..{high}")
    no_band = 0 if low is None and employer_rate == employee_rate == 0 else _MISSING
    floor = _decimal(data, "floor", where, no_band)
    ceiling = _decimal(data, "ceiling", where, no_band)
    if floor > ceiling:
        raise where.error("floor", f"floor {floor} is above ceiling {ceiling}")
    exempt = None
    if "employee_exempt_below" in data:
        exempt = _decimal(data, "employee_exempt_below", where)
    return SchemeRule(
        scheme=scheme,
        floor=floor,
        ceiling=ceiling,
        employer_rate=employer_rate,
        employee_rate=employee_rate,
        employer_fixed=_decimal(data, "employer_fixed", where, 0),
        employee_fixed=_decimal(data, "employee_fixed", where, 0),
        rounding=_enum(data, "rounding", where, Rounding, Rounding.HALF_UP_CENT),
        employer_rate_min=low,
        employer_rate_max=high,
        employee_exempt_below=exempt,
        optional=_typed(data, "optional", where, bool, False),
    )


def _version(data: object, index: int, where: _Where) -> PolicyVersion:
    if not isinstance(data, dict):
        raise where.error(f"versions[{index}]", "must be a table")
    numbered = where.at(version=f"#{index + 1}")
    effective = _date(_value(data, "effective", numbered, _MISSING), "effective", numbered)
    here = where.at(version=effective.isoformat())
    _no_unknown_keys(data, _VERSION_KEYS, here)
    until = None if data.get("until") is None else _date(data["until"], "until", here)
    if until is not None and until < effective:
        raise here.error("until", f"{until} is before the effective date")
    schemes: dict[Scheme, SchemeRule] = {}
    for name, rule in _table(data, "schemes", here).items():
        if name not in _SCHEME_IDS:
            raise here.error(f"schemes.{name}", f"unknown scheme {name!r}")
        if not isinstance(rule, dict):
            raise here.error(f"schemes.{name}", "must be a table")
        schemes[Scheme(name)] = _scheme_rule(Scheme(name), rule, here.at(prefix=f"schemes.{name}."))
    if not schemes:
        raise here.error("schemes", "no scheme defined")
    return PolicyVersion(
        effective=effective,
        until=until,
        schemes=schemes,
        confirmed=_typed(data, "confirmed", here, bool, _MISSING),
        provisional=_typed(data, "provisional", here, bool, False),
        source=_typed(data, "source", here, str, _MISSING),
        note=_typed(data, "note", here, str, ""),
    )


def _check_order(versions: list[PolicyVersion], where: _Where) -> None:
    """Versions ascend by effective date; a scheme's band never overlaps its successor."""
    latest: dict[Scheme, PolicyVersion] = {}
    for previous, version in zip([None, *versions], versions, strict=False):
        here = where.at(version=version.effective.isoformat())
        if previous is not None and version.effective < previous.effective:
            raise here.error(
                "effective", f"versions out of order: comes after {previous.effective}"
            )
        for scheme in version.schemes:
            earlier = latest.get(scheme)
            if earlier is not None and earlier.effective == version.effective:
                raise here.error(f"schemes.{scheme}", "defined twice for the same effective date")
            if (
                earlier is not None
                and earlier.until is not None
                and earlier.until >= version.effective
            ):
                problem = f"{earlier.until} overlaps the {scheme} band from {version.effective}"
                raise where.at(version=earlier.effective.isoformat()).error("until", problem)
            latest[scheme] = version


def load_policy(path: Path) -> Policy:
    """Read and validate one policy file; its id is the file name without `.toml`."""
    where = _Where(path.name)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle, parse_float=Decimal)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError(f"{path.name}: cannot read policy: {exc}") from exc
    _no_unknown_keys(data, _TOP_KEYS, where)
    currency = _typed(data, "currency", where, str, _MISSING)
    if not _CURRENCY_RE.match(currency):
        raise where.error("currency", f"must be an ISO 4217 code such as CNY, got {currency!r}")
    raw_versions = _value(data, "versions", where, _MISSING)
    if not isinstance(raw_versions, list) or not raw_versions:
        raise where.error("versions", "at least one [[versions]] table is required")
    versions = [_version(raw, index, where) for index, raw in enumerate(raw_versions)]
    _check_order(versions, where)
    tags = _value(data, "tags", where, [])
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise where.error("tags", "must be a list of text")
    names = _table(data, "names", where) if "names" in data else {}
    if not all(isinstance(name, str) and name.strip() for name in names.values()):
        raise where.error("names", "each locale's name must be non-empty text")
    due = _table(data, "due", where)
    fee = _table(data, "late_fee", where)
    # Optional: a scheme with no cover to suspend (MPF) has no [suspension] table.
    suspension = _table(data, "suspension", where) if "suspension" in data else None
    return Policy(
        id=path.stem,
        name=_typed(data, "name", where, str, path.stem),
        currency=currency,
        decimals=_int(data, "decimals", where, 4, 2),
        source=_typed(data, "source", where, str, ""),
        tags=tuple(tags),
        names=tuple((str(locale), str(name)) for locale, name in names.items()),
        due=_due(due, where.at(prefix="due.")),
        late_fee=_late_fee(fee, where.at(prefix="late_fee.")),
        suspension=(
            None if suspension is None else _suspension(suspension, where.at(prefix="suspension."))
        ),
        versions=tuple(versions),
    )


def _due(data: Mapping[str, Any], where: _Where) -> DueRule:
    allowed = {"day", "month_offset", "holiday_rule", "confirmed", "adjustment_due_dates"}
    _no_unknown_keys(data, allowed, where)
    day = _int(data, "day", where, 31)
    if day == 0:
        raise where.error("day", "must be a day of the month 1..31")
    adjustment = _int(data, "adjustment_due_dates", where, 12, 1)
    if adjustment == 0:
        raise where.error("adjustment_due_dates", "must be 1 (the next due date) or more")
    return DueRule(
        day=day,
        month_offset=_int(data, "month_offset", where, 12, 0),
        holiday_rule=_enum(data, "holiday_rule", where, HolidayRule, _MISSING),
        confirmed=_typed(data, "confirmed", where, bool, False),
        adjustment_due_dates=adjustment,
    )


def _late_fee(data: Mapping[str, Any], where: _Where) -> LateFeeRule:
    _no_unknown_keys(data, {"model", "rate", "rounding", "late_fee_cap"}, where)
    return LateFeeRule(
        model=_enum(data, "model", where, LateFeeModel, _MISSING),
        rate=_decimal(data, "rate", where, rate=True),
        rounding=_enum(data, "rounding", where, Rounding, Rounding.HALF_UP_CENT),
        cap=_enum(data, "late_fee_cap", where, LateFeeCap, LateFeeCap.NONE),
    )


def _suspension(data: Mapping[str, Any], where: _Where) -> SuspensionRule:
    _no_unknown_keys(data, {"suspend_after_days", "restore_window_months", "confirmed"}, where)
    return SuspensionRule(
        suspend_after_days=_int(data, "suspend_after_days", where, 3660),
        restore_window_months=_int(data, "restore_window_months", where, 120),
        confirmed=_typed(data, "confirmed", where, bool, False),
    )


def load_policies(directory: Path | None = None) -> dict[str, Policy]:
    """Every `*.toml` policy in `directory` (default: the packaged `core/policies`), by id."""
    folder = POLICY_DIR if directory is None else directory
    return {path.stem: load_policy(path) for path in sorted(folder.glob("*.toml"))}
