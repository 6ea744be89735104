"""What every handler may use besides the message: the database, policies, clock and locale.

One frozen object built once by the runtime (or a test) and passed to `handlers.pipeline.handle`,
so handlers never read globals, the wall clock or the config themselves (STYLE.md: time is
injected; tests never wait for it to pass).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from core.locales import DEFAULT_LOCALE, DEFAULT_TIMEZONE
from core.oncall import Rotation
from core.policy import Policy
from handlers.slow_work import SlowWork

DEFAULT_ZONE = ZoneInfo(DEFAULT_TIMEZONE)


def utc_now() -> datetime:
    """The production clock: aware UTC now."""
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class AppContext:
    engine: Engine
    policies: Mapping[str, Policy]
    default_locale: str = DEFAULT_LOCALE
    timezone: ZoneInfo = DEFAULT_ZONE
    clock: Callable[[], datetime] = utc_now
    """Aware UTC now; `today()` is its date in the company's timezone."""
    ack_sla_minutes: int = 60
    """How long an alert may stay open before it counts as late (KPI summaries)."""
    kpi_targets: Mapping[str, Decimal] = field(default_factory=dict)
    """`[kpi] thresholds`, drawn as the targets on the KPI chart."""
    account_names: Mapping[str, str] = field(default_factory=dict)
    """`[accounts.<id>] name`: overrides the policy's display names in replies."""
    account_owners: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """`[accounts.<id>] owners`: who may act on an account's company-wide alerts."""
    rotation: Rotation = field(default_factory=Rotation)
    """`[oncall]`: who answers for alerts of accounts without owners (`oncall` shows it)."""
    slow_work: SlowWork | None = None
    """Where charts are drawn (`handlers.slow_work`); None: in the handler, at once."""

    def now(self) -> datetime:
        return self.clock()

    def today(self) -> date:
        return self.clock().astimezone(self.timezone).date()
