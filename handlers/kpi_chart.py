"""The KPI chart as a PNG a manager reads at a glance in a chat window (1200×800 px).

Top: the four KPI rates as trend lines over the report's months, with the targets dashed.
Bottom: late fees per account over the same months, paid and still accruing, stacked; a bar
resting on an unconfirmed or provisional rule is marked `≈` and named in a footnote.

Chinese labels need a CJK font (Debian: `fonts-noto-cjk` or `fonts-wqy-microhei`). Without
one the chart falls back to English labels, and names it cannot draw (a Chinese department)
become a generic word: never empty boxes. pyplot is never imported: a `Figure` on the Agg
canvas renders without a display and without pyplot's global state, so charts drawn in
worker threads (chat replies, digests) cannot interfere.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from core.kpis import METRICS
from core.money import ZERO, format_amount
from handlers.i18n import translate
from storage.kpi_types import KpiReport, KpiRow, Money, View

if TYPE_CHECKING:  # matplotlib is imported where a chart is drawn: ~0.3 s of every CLI start
    from matplotlib.axes import Axes

SIZE_INCHES, DPI = (12, 8), 100
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Noto Sans CJK JP",
)
CJK_FILE_MARKERS = ("notosanscjk", "notosanssc", "sourcehansans", "wqy-microhei", "wqy-zenhei")
LATIN = "DejaVu Sans"
WIDTHS = {"on_time": 5.0, "accuracy": 3.2, "enrollment": 2.0, "ack": 1.4}
COLOURS = {"on_time": "#1f77b4", "accuracy": "#2ca02c", "enrollment": "#ff7f0e", "ack": "#9467bd"}

FontFinder = Callable[[], str | None]


@cache
def find_cjk_font() -> str | None:
    """The family name of an installed CJK font, or None.

    matplotlib's font cache is built once; a font installed after it is found by its file
    name among the system fonts and registered.
    """
    from matplotlib import font_manager

    known = {entry.name for entry in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in known:
            return family
    for path in sorted(font_manager.findSystemFonts()):
        if any(marker in Path(path).name.lower() for marker in CJK_FILE_MARKERS):
            font_manager.fontManager.addfont(path)
            return str(font_manager.FontProperties(fname=path).get_name())
    return None


@dataclass(frozen=True)
class ChartText:
    """The labels in the language the chart can draw."""

    locale: str
    cjk: bool

    def t(self, key: str, /, **values: object) -> str:
        return translate(self.locale, f"kpi_chart.{key}", **values)

    def name(self, text: str) -> str:
        """A name as drawn: kept when the font has its glyphs, else a generic word."""
        return text if self.cjk or text.isascii() else translate("en", "kpi.department_generic")


def chart_text(locale: str, cjk_font: str | None) -> ChartText:
    cjk = cjk_font is not None
    return ChartText(locale=locale if cjk or locale == "en" else "en", cjk=cjk)


def _rate(value: Decimal | None) -> float:
    # Plotting needs floats; the percentages shown are rates, never money.
    return math.nan if value is None else float(value * 100)


def chart_png(
    report: KpiReport,
    department: str | None,
    locale: str,
    targets: Mapping[str, Decimal] | None = None,
    fonts: FontFinder = find_cjk_font,
) -> bytes:
    """The chart of the company (department None) or one department, as PNG bytes.
    Positional, so that the slow lane (`handlers.slow_work`) can be handed it with its
    arguments; everything it takes pickles."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    family = fonts()
    text = chart_text(locale, family)
    view, name = (View.COMPANY, "") if department is None else (View.DEPARTMENT, department)
    series = report.series(view, name)
    scope = translate(text.locale, "kpi.company") if department is None else text.name(department)
    first, last = str(report.months[0]), str(report.months[-1])
    figure = Figure(figsize=SIZE_INCHES, dpi=DPI, layout="constrained")
    trend, fees = figure.subplots(2, 1, height_ratios=(3, 2))
    figure.suptitle(
        text.t("title", scope=scope, first=first, last=last)
        + "\n"
        + text.t("subtitle", as_of=report.today.isoformat()),
        fontsize=15,
    )
    _trend(trend, series, text, report.sla_minutes, targets or {})
    _fees(fees, series, text, first, last)
    if (note := estimate_note(series, text)) is not None:
        # A figure-level label, so the constrained layout keeps it clear of the bars' ticks.
        figure.supxlabel(note, x=0.01, ha="left", fontsize=10, color="#555555")
    families = [family, LATIN] if family else [LATIN]
    for item in figure.findobj(Text):
        item.set_fontfamily(families)
    buffer = io.BytesIO()
    FigureCanvasAgg(figure)  # the Agg canvas: rendering without a display
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _trend(
    axes: Axes, series: list[KpiRow], text: ChartText, sla: int, targets: Mapping[str, Decimal]
) -> None:
    from matplotlib.ticker import PercentFormatter

    positions = list(range(len(series)))
    lines = {
        metric: (text.t(metric, sla=sla), [value(row.kpis) for row in series])
        for metric, value in METRICS.items()
    }
    ends: list[tuple[float, str]] = []
    for key, (label, values) in lines.items():
        points = [_rate(v) for v in values]
        # Wider lines first: a KPI that runs on top of another still shows as a border.
        axes.plot(
            positions, points, marker="o", linewidth=WIDTHS[key], markersize=WIDTHS[key] + 3,
            label=label, color=COLOURS[key], zorder=3,
        )  # fmt: skip
        latest = next((i for i in reversed(positions) if not math.isnan(points[i])), None)
        if latest is not None:
            ends.append((points[latest] + latest * 1000, key))
        target = targets.get(key)
        if target is not None:
            percent = f"{(target * 100).quantize(Decimal('1'))}%"
            axes.axhline(
                _rate(target), color=COLOURS[key], linestyle="--", linewidth=1.2,
                label=text.t("target", name=label, value=percent),
            )  # fmt: skip
    _end_labels(axes, lines, ends)
    axes.set_xticks(positions, [str(row.period) for row in series])
    axes.set_xlim(-0.5, len(series) - 0.3)
    axes.set_ylim(0, 105)
    axes.yaxis.set_major_formatter(PercentFormatter(100))
    axes.set_title(text.t("trend"), fontsize=12, loc="left")
    axes.grid(axis="y", alpha=0.3)
    axes.tick_params(labelsize=10)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=10, frameon=False)


def _end_labels(
    axes: Axes, lines: Mapping[str, tuple[str, list[Decimal | None]]], ends: list[tuple[float, str]]
) -> None:
    """The latest figure of each line where it ends; labels at one spot stack downwards."""
    placed: dict[int, int] = {}
    for _, key in sorted(ends, reverse=True):
        values = lines[key][1]
        at = max(i for i, v in enumerate(values) if v is not None)
        value = _rate(values[at])
        slot = placed.get(at * 1000 + round(value / 8), 0)
        placed[at * 1000 + round(value / 8)] = slot + 1
        axes.annotate(
            f"{value:.0f}%", (at, value), color=COLOURS[key],
            xytext=(8, -14 * slot), textcoords="offset points", fontsize=10, va="center",
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85},
        )  # fmt: skip


def _account(money: Money) -> str:
    return f"{money.account} ({money.currency})"


def fee_label(money: Money) -> str:
    """A late-fee bar's label: account and currency, `≈ ` first (as `report dues` marks it)
    when a rule behind the amounts is unconfirmed or provisional."""
    return f"{'≈ ' if money.estimated else ''}{_account(money)}"


def estimate_note(series: Sequence[KpiRow], text: ChartText) -> str | None:
    """The footnote naming the figures drawn from an estimate (the `≈` bars), as `dues` names
    them under its figures; None when every figure rests on confirmed rules."""
    accounts = sorted({_account(m) for row in series for m in row.money if m.estimated})
    return text.t("estimate", accounts=", ".join(accounts)) if accounts else None


def _fees(axes: Axes, series: list[KpiRow], text: ChartText, first: str, last: str) -> None:
    paid: dict[str, Decimal] = {}
    accruing: dict[str, Decimal] = {}
    for row in series:
        for money in row.money:
            key = fee_label(money)
            paid[key] = paid.get(key, ZERO) + money.late_fees_paid
            accruing[key] = accruing.get(key, ZERO) + money.late_fees_accruing
    axes.set_title(text.t("late_fees", first=first, last=last), fontsize=12, loc="left")
    labels = sorted(paid)
    if not labels or all(paid[k] + accruing[k] == ZERO for k in labels):
        axes.text(0.5, 0.5, text.t("no_late_fees"), ha="center", va="center", fontsize=13)
        axes.set_axis_off()
        return
    # Bar heights are floats for drawing only; the labels print the exact amounts.
    done = [float(paid[k]) for k in labels]
    open_ = [float(accruing[k]) for k in labels]
    axes.bar(labels, done, color="#7f7f7f", label=text.t("paid"))
    axes.bar(labels, open_, bottom=done, color="#d62728", label=text.t("accruing"))
    for index, key in enumerate(labels):
        total = paid[key] + accruing[key]
        currency = key.rsplit("(", 1)[1].rstrip(")")
        axes.annotate(
            f"{format_amount(total)} {currency}", (index, done[index] + open_[index]),
            ha="center", va="bottom", fontsize=10, xytext=(0, 3), textcoords="offset points",
        )  # fmt: skip
    axes.margins(y=0.2)
    axes.tick_params(labelsize=10)
    axes.grid(axis="y", alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=10, frameon=False)
