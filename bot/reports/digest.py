"""The `kpi_digest` scheduler job: KPI alerts every day, the monthly digest on `digest_day`.

`[scheduler] kpi_digest` wakes the job daily (default 09:00). Each run re-evaluates the KPI
alerts (`storage.kpi_alerts`); on `[kpi] digest_day` it also queues the previous month's
digest for every manager and HR (`storage.kpi_digest`). The outbox's idempotency keys make a
second run on the same day, or a second instance, queue nothing new.
"""

from __future__ import annotations

from datetime import datetime

from bot.config import Settings
from core.periods import Period
from handlers.context import AppContext
from storage.db import session_scope
from storage.kpi_alerts import run_kpi_alerts
from storage.kpi_digest import digest_deliveries
from storage.outbox import enqueue
from storage.routing import Routing


def kpi_digest_job(
    app: AppContext, settings: Settings, routing: Routing, fire_time: datetime
) -> str:
    """One wake-up of the job; returns the job_run summary line."""
    now = app.clock()
    alerts = run_kpi_alerts(
        app.engine,
        now=now,
        timezone=app.timezone,
        policies=app.policies,
        thresholds=settings.kpi.thresholds,
        sla_minutes=settings.kpi.ack_sla_minutes,
        routing=routing,
    )
    summary = (
        f"kpi alerts: opened {len(alerts.opened)}, updated {len(alerts.updated)}, "
        f"resolved {len(alerts.resolved)}"
    )
    day = fire_time.astimezone(app.timezone).date()
    if day.day != settings.kpi.digest_day:
        return f"{summary}; digest waits for day {settings.kpi.digest_day}"
    period = Period.of(day).prev()
    with session_scope(app.engine) as session:
        queued = enqueue(
            session,
            digest_deliveries(
                session,
                period,
                routing=routing,
                now=now,
                sla_minutes=settings.kpi.ack_sla_minutes,
                targets=settings.kpi.thresholds,
            ),
            now=now,
        )
    return f"{summary}; digest {period}: {queued} queued"
