"""The monthly KPI digest, rendered when the dispatcher sends it (`storage.kpi_digest`).

The payload fixes the month, the scope, the recipient's language and the moment the figures
are taken at (`as_of`, the digest run), so every recipient reads the same numbers however long
quiet hours or a Retry-After held their message; the text and chart are drawn at send time.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from core.periods import Period
from core.policy import Policy
from core.policy_loader import load_policies
from handlers.i18n import translate
from handlers.kpi_view import TEXT_ONLY_PLATFORMS, kpi_reply, kpi_report
from handlers.types import Reply
from storage.accounts import account_policies


@cache
def _policies() -> dict[str, Policy]:
    """The packaged policies, as `bot.app.open_app` loads them (read once per process)."""
    return load_policies()


def render_kpi_digest(
    session: Session, payload: dict[str, Any], *, platform: str, timezone: str
) -> Reply:
    locale = str(payload.get("locale", "zh-CN"))
    report = kpi_report(
        session,
        account_policies(session, _policies()),
        Period.parse(payload["period"]),
        as_of=datetime.fromisoformat(payload["as_of"]),
        sla_minutes=int(payload["sla_minutes"]),
        timezone=ZoneInfo(timezone),
    )
    targets = {metric: Decimal(value) for metric, value in payload.get("targets", {}).items()}
    return kpi_reply(
        locale,
        report,
        department=payload.get("department"),
        chart=platform not in TEXT_ONLY_PLATFORMS,
        targets=targets,
        heading=translate(locale, "kpi.digest"),
    )
