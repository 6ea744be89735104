"""From settings to running parts: adapters, alert routing, rule settings and scheduled jobs."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from adapters.base import Adapter, ChatAdapter
from bot.config import PlatformSection, Settings
from bot.platforms import secret
from bot.reports.digest import kpi_digest_job
from core.alert_rules import RuleSettings
from core.periods import Period
from core.platforms import CONSOLE, PLATFORMS, PlatformSpec
from core.quiet_hours import QuietHours
from handlers.context import AppContext
from storage.accounts import account_policies
from storage.db import session_scope
from storage.escalations import run_escalations
from storage.handover import queue_handover
from storage.ledger import run_dues
from storage.routing import Routing, unreachable
from storage.scan import run_scan


def rules_from(settings: Settings) -> RuleSettings:
    return RuleSettings(
        lead_days=tuple(settings.alerts.lead_days),
        suspension_warning_days=settings.alerts.suspension_warning_days,
        funding_horizon_days=settings.alerts.funding_horizon_days,
        enrollment_warning_days=settings.alerts.enrollment_warning_days,
    )


def _section(settings: Settings, spec: PlatformSpec) -> PlatformSection:
    section = getattr(settings, spec.section)
    assert isinstance(section, PlatformSection), f"[{spec.section}] is not a platform section"
    return section


def enabled_platforms(settings: Settings) -> tuple[PlatformSpec, ...]:
    """The chat platforms whose config section is enabled, in table order."""
    return tuple(spec for spec in PLATFORMS if _section(settings, spec).enabled)


def routing_from(settings: Settings, *, console: bool = True) -> Routing:
    """Enabled platforms and HR groups; the console stands in when no platform is enabled."""
    enabled = enabled_platforms(settings)
    groups = {
        spec.name: tuple(getattr(_section(settings, spec), spec.group_setting)) for spec in enabled
    }
    platforms = tuple(spec.name for spec in enabled)
    return Routing(
        platforms=platforms if platforms or not console else (),
        hr_groups={name: ids for name, ids in groups.items() if ids},
        webhook=settings.webhook.enabled,
        hr_leads=tuple(settings.alerts.hr_leads),
        quiet_hours=QuietHours.parse(settings.alerts.quiet_hours),
        urgent_bypass=frozenset(settings.alerts.urgent_bypass_quiet_hours),
        timezone=settings.bot.timezone,
        locale=settings.bot.locale,
        owners=settings.account_owners(),
        rotation=settings.oncall.rotation(),
        notify_employees=settings.alerts.notify_employees,
    )


def routing_warnings(settings: Settings, engine: Engine | None = None) -> list[str]:
    """Routing that would drop an alert's step: shown when `coverwatch run` starts. With the
    database, also the owners and on-call members nobody could reach (no id on any enabled
    platform, or not on the roster): their alerts would go to HR leads and groups instead."""
    warnings = []
    if settings.alerts.escalation_levels > 0 and not settings.alerts.hr_leads:
        warnings.append(
            "escalation is on but [alerts] hr_leads is empty: the last escalation level "
            'reaches no one (set hr_leads = ["EMPLOYEE_ID", …])'
        )
    if engine is None:
        return warnings
    routing = routing_from(settings)
    named = {f"[accounts.{a}] owners": ids for a, ids in sorted(routing.owners.items())}
    rotation = routing.rotation
    named["[oncall] members"] = tuple(
        dict.fromkeys((*rotation.members, *rotation.overrides.values()))
    )
    with Session(engine) as session:
        for where, ids in named.items():
            missing = unreachable(session, ids, routing)
            if missing:
                warnings.append(
                    f"{where}: {'; '.join(missing)}: their alerts go to hr_leads and the HR "
                    "groups instead (add the ids to the employees file, or coverwatch sync users)"
                )
    return warnings


def adapter_factory(spec: PlatformSpec) -> Callable[[Settings], ChatAdapter]:
    """The function a `PlatformSpec` names (`module:function`)."""
    module, _, name = spec.factory.partition(":")
    factory: Callable[[Settings], ChatAdapter] = getattr(importlib.import_module(module), name)
    return factory


def build_adapters(settings: Settings) -> dict[str, Adapter]:
    """One adapter per enabled platform; the console when none is enabled."""
    chats = {spec.name: adapter_factory(spec)(settings) for spec in enabled_platforms(settings)}
    adapters: dict[str, Adapter] = dict(chats)
    if settings.webhook.enabled:
        from adapters.webhook import WebhookAdapter

        adapters["webhook"] = WebhookAdapter(
            settings.webhook.url or "", secret(settings.webhook.secret)
        )
    if not chats:
        from adapters.console import ConsoleAdapter

        adapters[CONSOLE] = ConsoleAdapter.for_runtime()
    return adapters


def scheduled_jobs(
    settings: Settings, app: AppContext, routing: Routing
) -> dict[str, tuple[str, Callable[[datetime], str]]]:
    """The `[scheduler]` jobs: daily scan, monthly dues run, escalation checks, KPI digest,
    and the on-call hand-over (on the scan's schedule)."""
    zone = app.timezone

    def scan(fire_time: datetime) -> str:
        report = run_scan(
            app.engine,
            as_of=fire_time.astimezone(zone).date(),
            now=app.clock(),
            policies=app.policies,
            rules=rules_from(settings),
            routing=routing,
        )
        return (
            f"opened {len(report.opened)}, updated {len(report.updated)}, "
            f"resolved {len(report.resolved)}, queued {report.deliveries} deliveries"
        )

    def dues(fire_time: datetime) -> str:
        day = fire_time.astimezone(zone).date()
        period = Period.of(day)
        with session_scope(app.engine) as session:
            run = run_dues(
                session,
                period,
                account_policies(session, app.policies),
                now=app.clock(),
                today=day,
                actor="job:dues",
                via="job",
            )
        return f"{period}: {run.employees} employees"

    def escalate(fire_time: datetime) -> str:
        escalated = run_escalations(
            app.engine,
            now=app.clock(),
            routing=routing,
            after_minutes=settings.alerts.escalate_after_minutes,
            max_levels=settings.alerts.escalation_levels,
        )
        return f"escalated {len(escalated)}"

    def kpi_digest(fire_time: datetime) -> str:
        return kpi_digest_job(app, settings, routing, fire_time)

    def oncall_handover(fire_time: datetime) -> str:
        with session_scope(app.engine) as session:
            queued = queue_handover(
                session,
                routing.rotation,
                today=fire_time.astimezone(zone).date(),
                now=app.clock(),
                routing=routing,
            )
        return f"queued {queued} hand-over deliveries"

    return {
        "scan": (settings.scheduler.scan, scan),
        "dues": (settings.scheduler.dues, dues),
        "escalation": (settings.scheduler.escalation, escalate),
        "kpi_digest": (settings.scheduler.kpi_digest, kpi_digest),
        # With the daily scan: a shift starts on a day, and its notice goes once (storage.handover).
        "oncall_handover": (settings.scheduler.scan, oncall_handover),
    }
