"""Build the one `AppContext` every entry point shares: the CLI, the console chat, the runtime.

Opening the app checks that the schema exists (a missing `coverwatch init` is a one-line
error, not a "no such table" traceback) and syncs the configured accounts, so `[accounts.<id>]`
edits take effect at the next start. The clock is injected: production uses the wall clock,
tests and the CLI's hidden `--today YYYY-MM-DD` a fixed instant (STYLE.md: time is injected).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from bot.config import Settings
from core.policy_loader import load_policies
from handlers.context import AppContext, utc_now
from storage.accounts import known_account_ids, sync_accounts
from storage.db import make_engine, session_scope
from storage.rekey import check_keys
from storage.sealing import DataKeyError, use_data_keys

Clock = Callable[[], datetime]
FIXED_TIME_OF_DAY = time(10, 0)
"""A fixed clock reads 10:00 local: inside working hours, so quiet hours never hold a reply."""


class AppError(Exception):
    """A problem the user fixes (run `init`, start the database); the message is one line."""


def fixed_clock(day: date, timezone: ZoneInfo) -> Clock:
    """A clock stopped at 10:00 on `day` in the company's timezone (returned as aware UTC)."""
    instant = datetime.combine(day, FIXED_TIME_OF_DAY, tzinfo=timezone).astimezone(UTC)
    return lambda: instant


def shifted_clock(day: date, timezone: ZoneInfo, wall: Clock) -> Clock:
    """A running clock whose date is `day` at start: `coverwatch run --today` needs time to pass
    (retries, escalation), a stopped clock would leave every delayed delivery waiting forever."""
    offset = fixed_clock(day, timezone)() - wall()
    return lambda: wall() + offset


def database_error(exc: DBAPIError) -> AppError:
    """The driver's first line only: a DSN error may continue with connection details."""
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
    return AppError(f"database unreachable or failing: {reason}")


def require_schema(engine: Engine) -> None:
    """Raise `AppError` unless `coverwatch init` has created the tables."""
    try:
        ready = inspect(engine).has_table("account")
    except DBAPIError as exc:
        raise database_error(exc) from None
    if not ready:
        raise AppError("the database has no coverwatch schema: run `coverwatch init` first")


def open_app(settings: Settings, *, clock: Clock | None = None) -> AppContext:
    """Engine (with the data keys that seal id numbers), policies and synced accounts;
    raises `AppError` (or `PolicyError`) on failure."""
    engine = make_engine(settings.database.url)
    keys = settings.security.data_keys()
    use_data_keys(engine, keys)
    closures = frozenset(settings.calendar.closures)
    policies = {key: replace(p, closures=closures) for key, p in load_policies().items()}
    require_schema(engine)
    try:
        with session_scope(engine) as session:
            sync_accounts(session, settings.account_settings(), policies)
            check_keys(session, keys)
    except DataKeyError as exc:
        raise AppError(str(exc)) from None
    except DBAPIError as exc:
        raise database_error(exc) from None
    except ValueError as exc:  # an account naming a policy that does not exist
        raise AppError(str(exc)) from None
    return AppContext(
        engine=engine,
        policies=policies,
        default_locale=settings.bot.locale,
        timezone=ZoneInfo(settings.bot.timezone),
        clock=clock or utc_now,
        ack_sla_minutes=settings.kpi.ack_sla_minutes,
        kpi_targets=settings.kpi.thresholds,
        account_names=settings.account_names(),
        account_owners=settings.account_owners(),
        rotation=settings.oncall.rotation(),
    )


@dataclass(frozen=True)
class ImportTargets:
    """The accounts an import may name, and what a missing `Account` row is created with: the
    same for a file (`coverwatch import`) and the API's items."""

    known_accounts: frozenset[str]
    currencies: dict[str, str]
    policies: dict[str, str]


def import_targets(settings: Settings, context: AppContext) -> ImportTargets:
    configured = settings.account_settings()
    policy_of = {account: account for account in context.policies}
    policy_of |= {account_id: s.policy_id for account_id, s in configured.items()}
    return ImportTargets(
        known_accounts=frozenset(known_account_ids(configured, context.policies)),
        currencies={
            account: context.policies[policy].currency for account, policy in policy_of.items()
        },
        policies=policy_of,
    )
