"""From settings to running parts: adapters, alert routing, rule settings and scheduled jobs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from adapters.base import ChatAdapter
from bot.config import Settings
from bot.reports.digest import kpi_digest_job
from core.alert_rules import RuleSettings
from core.periods import Period
from core.quiet_hours import QuietHours
from handlers.context import AppContext
from storage.accounts import account_policies
from storage.db import session_scope
from storage.escalations import run_escalations
from storage.ledger import run_dues
from storage.routing import Routing
from storage.scan import run_scan


def rules_from(settings: Settings) -> RuleSettings:
    return RuleSettings(
        lead_days=tuple(settings.alerts.lead_days),
        suspension_warning_days=settings.alerts.suspension_warning_days,
        funding_horizon_days=settings.alerts.funding_horizon_days,
        enrollment_warning_days=settings.alerts.enrollment_warning_days,
    )


def routing_from(settings: Settings, *, console: bool = True) -> Routing:
    """Enabled platforms and HR groups; the console stands in when no platform is enabled."""
    platforms = tuple(
        name
        for name, section in (
            ("slack", settings.slack),
            ("dingtalk", settings.dingtalk),
            ("wecom", settings.wecom),
        )
        if section.enabled
    )
    groups = {
        "slack": tuple(settings.slack.hr_channels) if settings.slack.enabled else (),
        "dingtalk": tuple(settings.dingtalk.hr_groups) if settings.dingtalk.enabled else (),
        "wecom": tuple(settings.wecom.hr_chats) if settings.wecom.enabled else (),
    }
    return Routing(
        platforms=platforms if platforms or not console else (),
        hr_groups={name: ids for name, ids in groups.items() if ids},
        webhook=settings.webhook.enabled,
        hr_leads=tuple(settings.alerts.hr_leads),
        quiet_hours=QuietHours.parse(settings.alerts.quiet_hours),
        urgent_bypass=frozenset(settings.alerts.urgent_bypass_quiet_hours),
        timezone=settings.bot.timezone,
        locale=settings.bot.locale,
    )


def _secret(value: object) -> str:
    getter = getattr(value, "get_secret_value", None)
    return str(getter()) if getter else str(value or "")


def build_adapters(settings: Settings) -> dict[str, ChatAdapter]:
    """One adapter per enabled platform; the console when none is enabled."""
    adapters: dict[str, ChatAdapter] = {}
    if settings.slack.enabled:
        from adapters.slack import SlackAdapter

        adapters["slack"] = SlackAdapter(
            bot_token=_secret(settings.slack.bot_token),
            signing_secret=_secret(settings.slack.signing_secret),
            app_token=_secret(settings.slack.app_token),
            mode=settings.slack.mode,
            hr_channels=settings.slack.hr_channels,
            api_base_url=settings.slack.api_base_url,
        )
    if settings.dingtalk.enabled:
        from adapters.dingtalk import DingTalkAdapter

        adapters["dingtalk"] = DingTalkAdapter(
            client_id=settings.dingtalk.client_id or "",
            client_secret=_secret(settings.dingtalk.client_secret),
            robot_code=settings.dingtalk.effective_robot_code or "",
            api_base_url=settings.dingtalk.api_base_url,
            gateway_url=settings.dingtalk.gateway_url,
            card_template_id=settings.dingtalk.card_template_id,
            locale=settings.bot.locale,
        )
    if settings.wecom.enabled:
        from adapters.wecom import WeComAdapter

        adapters["wecom"] = WeComAdapter(
            corp_id=settings.wecom.corp_id or "",
            secret=_secret(settings.wecom.secret),
            agent_id=int(settings.wecom.agent_id or 0),
            token=_secret(settings.wecom.token),
            encoding_aes_key=_secret(settings.wecom.encoding_aes_key),
            hr_chats=settings.wecom.hr_chats,
            api_base_url=settings.wecom.api_base_url,
        )
    if settings.webhook.enabled:
        from adapters.webhook import WebhookAdapter

        adapters["webhook"] = WebhookAdapter(
            settings.webhook.url or "", _secret(settings.webhook.secret)
        )
    if not any(name in adapters for name in ("slack", "dingtalk", "wecom")):
        from adapters.console import ConsoleAdapter

        adapters["console"] = ConsoleAdapter.for_runtime()
    return adapters


def scheduled_jobs(
    settings: Settings, app: AppContext, routing: Routing
) -> dict[str, tuple[str, Callable[[datetime], str]]]:
    """The `[scheduler]` jobs: daily scan, monthly dues run, escalation checks, KPI digest."""
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
        period = Period.of(fire_time.astimezone(zone).date())
        with session_scope(app.engine) as session:
            run = run_dues(
                session, period, account_policies(session, app.policies), now=app.clock()
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

    return {
        "scan": (settings.scheduler.scan, scan),
        "dues": (settings.scheduler.dues, dues),
        "escalation": (settings.scheduler.escalation, escalate),
        "kpi_digest": (settings.scheduler.kpi_digest, kpi_digest),
    }
