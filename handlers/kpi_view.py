"""The KPI summary as a reply in any language: the chat `kpi` answer and the monthly digest.

Both read one `storage.kpi_report.KpiReport` (the chart's too), so the figures a manager reads
in the text are the points drawn on the chart. The text is always the complete answer; the
chart is an attachment for the platforms that show images.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlmodel import Session

from core.kpis import summarize
from core.periods import Period
from handlers.i18n import translate
from handlers.kpi_chart import FontFinder, chart_png, find_cjk_font
from handlers.slow_work import SlowWork
from handlers.types import Attachment, Card, Field, PendingAttachment, Reply
from storage.accounts import AccountPolicy
from storage.kpi_report import gather
from storage.kpi_types import KpiReport, KpiRow, View

CHART_MONTHS = 12
TEXT_ONLY_PLATFORMS = frozenset({"console"})
"""Where a chart cannot be shown, it is not drawn."""
PERCENT = Decimal(100)


def kpi_report(
    session: Session,
    accounts: Mapping[str, AccountPolicy],
    period: Period,
    *,
    as_of: datetime,
    sla_minutes: int,
    timezone: ZoneInfo,
) -> KpiReport:
    """The chart's window: `period` and the 11 months before it."""
    return gather(
        session,
        accounts,
        period=period,
        months=CHART_MONTHS,
        as_of=as_of,
        sla_minutes=sla_minutes,
        timezone=timezone,
    )


def percent_text(locale: str, ratio: Decimal | None) -> str:
    if ratio is None:
        return translate(locale, "format.none")
    return f"{(ratio * PERCENT).quantize(Decimal('0.1'))}%"


def minutes_text(locale: str, value: timedelta | None) -> str:
    if value is None:
        return translate(locale, "format.none")
    return translate(locale, "kpi.minutes", minutes=round(value.total_seconds() / 60))


def scope_row(report: KpiReport, department: str | None) -> KpiRow:
    """The company's row (department None) or the department's, for the report's period."""
    if department is None:
        return report.row(View.COMPANY)
    if department not in report.names(View.DEPARTMENT):  # a manager with no department set
        empty = summarize([], [], [], as_of=report.as_of, sla_minutes=report.sla_minutes)
        return KpiRow(view=View.DEPARTMENT, name=department, period=report.period, kpis=empty)
    return report.row(View.DEPARTMENT, department)


def summary_reply(
    locale: str, row: KpiRow, *, scope: str, sla_minutes: int, heading: str | None = None
) -> Reply:
    """Title and the four KPIs, as a card and as the same text."""
    kpis, ack = row.kpis, row.kpis.ack

    def t(key: str, /, **values: object) -> str:
        return translate(locale, key, **values)

    fields = (
        Field(label=t("kpi.on_time"), value=percent_text(locale, kpis.on_time_rate)),
        Field(label=t("kpi.accuracy"), value=percent_text(locale, kpis.payment_accuracy)),
        Field(label=t("kpi.enrollment"), value=percent_text(locale, kpis.enrollment_timeliness)),
        Field(
            label=t("kpi.ack"),
            value=t(
                "kpi.ack_value",
                count=ack.acknowledged,
                mean=minutes_text(locale, ack.mean),
                p90=minutes_text(locale, ack.p90),
                sla=sla_minutes,
                within=percent_text(locale, ack.within_sla),
            ),
        ),
    )
    title = t("kpi.title", period=row.period, scope=scope)
    lines = [heading] if heading else []
    lines += [title, *(t("format.field", label=f.label, value=f.value) for f in fields)]
    return Reply(text="\n".join(lines), card=Card(title=title, fields=fields))


def kpi_reply(
    locale: str,
    report: KpiReport,
    *,
    department: str | None,
    chart: bool,
    targets: Mapping[str, Decimal] | None = None,
    heading: str | None = None,
    fonts: FontFinder = find_cjk_font,
    slow_work: SlowWork | None = None,
) -> Reply:
    """The summary of the report's period for a scope, with the chart attached when wanted:
    drawn here, or pending in `slow_work` when there is one."""
    scope = department if department is not None else translate(locale, "kpi.company")
    reply = summary_reply(
        locale,
        scope_row(report, department),
        scope=scope,
        sla_minutes=report.sla_minutes,
        heading=heading,
    )
    if not chart:
        return reply
    filename = f"kpi-{report.period}.png"
    if slow_work is not None:
        drawing = slow_work.submit(chart_png, report, department, locale, targets, fonts)
        pending = PendingAttachment(filename=filename, content=drawing)
        return Reply(text=reply.text, card=reply.card, pending=(pending,))
    png = chart_png(report, department, locale, targets, fonts)
    attachment = Attachment(filename=filename, content=png)
    return Reply(text=reply.text, card=reply.card, attachments=(attachment,))
