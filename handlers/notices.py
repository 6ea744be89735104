"""Notices to one person that are not alert cards: an employee's own cover (at risk, restored)
and the on-call hand-over. Plain text, no buttons, no amounts; rendered at send time in the
reader's language like every delivery (`handlers.alert_render.render_delivery`)."""

from __future__ import annotations

import json
from datetime import date

from sqlmodel import Session

from core.alerts import AlertState
from core.cover import suspension_started
from handlers.formatting import AccountNames
from handlers.i18n import translate
from handlers.types import Reply
from storage.cover_notices import AT_RISK, RESTORED
from storage.models import Alert
from storage.outbox import CoverNoticePayload, HandoverPayload


def render_cover_notice(
    session: Session, payload: CoverNoticePayload, names: AccountNames
) -> Reply | None:
    """None once the news is stale: a risk paid off before it went out, a restore whose debt
    came back meanwhile."""
    alert = session.get(Alert, payload.alert_id)
    if alert is None or alert.account_id is None or alert.suspension_on is None:
        return None
    resolved = alert.state == AlertState.RESOLVED
    if payload.notice not in (AT_RISK, RESTORED) or resolved != (payload.notice == RESTORED):
        return None
    notice = payload.notice
    as_of = json.loads(alert.details or "{}").get("as_of")  # the day of the alert's figures
    if (
        notice == AT_RISK
        and as_of
        and suspension_started(alert.suspension_on, date.fromisoformat(as_of))
    ):
        notice = "suspended"
    text = translate(
        payload.locale,
        f"cover_notice.{notice}",
        account=names.name(session, alert.account_id, payload.locale),
        suspension_on=alert.suspension_on.isoformat(),
    )
    return Reply(text=text)


def render_handover(payload: HandoverPayload) -> Reply:
    start = payload.start.isoformat()
    if payload.until is None:
        return Reply(text=translate(payload.locale, "oncall_notice.handover_open", start=start))
    until = payload.until.isoformat()
    return Reply(text=translate(payload.locale, "oncall_notice.handover", start=start, until=until))
