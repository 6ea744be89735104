"""The KPI chart: a real PNG at chat size, drawn with a CJK font or in English without one."""

from __future__ import annotations

import io
import warnings
from dataclasses import replace
from decimal import Decimal

import pytest
from matplotlib.figure import Figure
from PIL import Image
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import col

from core.locales import ZH_CN
from core.periods import Period
from core.policy_loader import load_policies
from handlers.kpi_chart import chart_png, chart_text, estimate_note, fee_label, find_cjk_font
from storage.accounts import account_policies
from storage.db import session_scope
from storage.kpi_report import gather
from storage.kpi_types import KpiReport, Money, View
from storage.models import Employee
from tests.support.databases import Migrated
from tests.support.kpi_company import AS_OF, ZONE, seed

RD = "研发部"
TARGETS = {"on_time": Decimal("0.95"), "enrollment": Decimal("0.9")}


@pytest.fixture
def report(sqlite_url: str, migrated: Migrated) -> KpiReport:
    engine: Engine = migrated(sqlite_url)
    seed(engine)
    with session_scope(engine) as session:
        session.execute(
            update(Employee).where(col(Employee.department) == "Eng").values(department=RD)
        )
    with session_scope(engine) as session:
        accounts = account_policies(session, load_policies())
        return gather(
            session,
            accounts,
            period=Period(2025, 5),
            months=12,
            as_of=AS_OF,
            sla_minutes=60,
            timezone=ZONE,
        )


def missing_glyphs(draw: object) -> list[str]:
    """Warnings matplotlib gives for characters its font cannot draw (the empty boxes)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        draw()  # type: ignore[operator]
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


def test_the_detector_sees_empty_boxes() -> None:
    """The control for the tests below: Chinese in the default Latin font is caught."""
    figure = Figure()
    figure.suptitle("研发部")
    assert missing_glyphs(lambda: figure.savefig(io.BytesIO(), format="png"))


def test_chart_is_a_chat_sized_png(report: KpiReport) -> None:
    png = chart_png(report, department=None, locale="en", targets=TARGETS, fonts=lambda: None)
    image = Image.open(io.BytesIO(png))
    assert (image.format, image.size) == ("PNG", (1200, 800))
    assert len(png) > 20_000  # lines, bars and labels, not a blank canvas


def test_without_a_cjk_font_chinese_readers_get_english_labels(report: KpiReport) -> None:
    text = chart_text(ZH_CN, None)
    assert text.t("on_time") == "On-time payment"
    assert text.name("研发部") == "department" and text.name("Eng") == "Eng"
    boxes = missing_glyphs(
        lambda: chart_png(report, department=RD, locale=ZH_CN, fonts=lambda: None)
    )
    assert boxes == []
    assert RD in report.names(View.DEPARTMENT)


def test_with_a_cjk_font_the_chart_is_in_chinese(report: KpiReport) -> None:
    family = find_cjk_font()
    if family is None:
        pytest.skip("no CJK font installed (Debian: fonts-noto-cjk or fonts-wqy-microhei)")
    text = chart_text(ZH_CN, family)
    assert text.t("on_time") == "按时缴费率" and text.name("研发部") == "研发部"
    png: list[bytes] = []
    boxes = missing_glyphs(
        lambda: png.append(chart_png(report, department=RD, locale=ZH_CN, targets=TARGETS))
    )
    assert boxes == []
    assert Image.open(io.BytesIO(png[0])).size == (1200, 800)


def test_a_late_fee_bar_from_a_provisional_rule_is_marked_an_estimate() -> None:
    """Issue 13: `≈` before the account, as `report dues` marks an estimated figure."""
    zero = Decimal("0.00")
    fees = {"arrears": zero, "late_fees_accrued": zero, "late_fees_paid": zero}
    money = Money(account="hangzhou", currency="CNY", late_fees_accruing=zero, **fees)
    assert fee_label(money) == "hangzhou (CNY)"
    assert fee_label(replace(money, estimated=True)) == "≈ hangzhou (CNY)"


def test_a_chart_with_an_estimated_figure_names_it_in_a_footnote(report: KpiReport) -> None:
    """Issue 13 item 7: the ≈ bar is named under the chart, as `dues` names its estimates."""
    estimated = replace(
        report,
        rows=tuple(
            replace(row, money=tuple(replace(m, estimated=True) for m in row.money))
            for row in report.rows
        ),
    )
    english = chart_text("en", None)
    assert estimate_note(report.series(View.COMPANY), english) is None
    note = estimate_note(estimated.series(View.COMPANY), english)
    assert note == english.t("estimate", accounts="beijing (CNY)")
    assert note is not None and note.startswith("≈ ") and "beijing (CNY)" in note
    plain = chart_png(report, department=None, locale="en", fonts=lambda: None)
    drawn: list[bytes] = []
    boxes = missing_glyphs(
        lambda: drawn.append(
            chart_png(estimated, department=None, locale=ZH_CN, fonts=lambda: None)
        )
    )
    assert boxes == [] and drawn[0] != plain
