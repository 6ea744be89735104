"""The injected clock: `today` is the company's local date, not UTC's."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine

from handlers.context import AppContext


def test_today_is_the_date_in_the_company_timezone() -> None:
    late_utc = datetime(2025, 6, 30, 17, 30, tzinfo=UTC)  # already 1 July in Shanghai
    app = AppContext(engine=create_engine("sqlite://"), policies={}, clock=lambda: late_utc)
    assert app.today() == date(2025, 7, 1)
    assert app.now() == late_utc
    london = AppContext(
        engine=app.engine, policies={}, clock=lambda: late_utc, timezone=ZoneInfo("Europe/London")
    )
    assert london.today() == date(2025, 6, 30)
