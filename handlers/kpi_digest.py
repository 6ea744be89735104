"""The monthly KPI digest, rendered when the dispatcher sends it (`storage.kpi_digest`).

The payload fixes the month, the scope, the recipient's language and the moment the figures
are taken at (`as_of`, the digest run), so every recipient reads the same numbers however long
quiet hours or a Retry-After held their message; the text and chart are drawn at send time.
"""

from __future__ import annotations

from functools import cache
from zoneinfo import ZoneInfo

from sqlmodel import Session

from core.policy import Policy
from core.policy_loader import load_policies
from handlers.i18n import translate
from handlers.kpi_view import TEXT_ONLY_PLATFORMS, kpi_reply, kpi_report
from handlers.types import Reply
from storage.accounts import account_policies
from storage.outbox import DigestPayload


@cache
def _policies() -> dict[str, Policy]:
    """The packaged policies, as `bot.app.open_app` loads them (read once per process)."""
    return load_policies()


def render_kpi_digest(
    session: Session, payload: DigestPayload, *, platform: str, timezone: str
) -> Reply:
    report = kpi_report(
        session,
        account_policies(session, _policies()),
        payload.period,
        as_of=payload.as_of,
        sla_minutes=payload.sla_minutes,
        timezone=ZoneInfo(timezone),
    )
    return kpi_reply(
        payload.locale,
        report,
        department=payload.department,
        chart=platform not in TEXT_ONLY_PLATFORMS,
        targets=payload.targets,
        heading=translate(payload.locale, "kpi.digest"),
    )
