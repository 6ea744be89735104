"""The monthly KPI digest: queued once per recipient on digest_day, sent with its chart.

The job runs against the hand-built company; a real dispatcher then sends the outbox through
the Slack and WeCom adapters to their loopback fakes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from adapters.wecom import WeComAdapter
from bot.config import KpiConfig, Settings
from bot.dispatcher import Dispatcher
from bot.reports.digest import kpi_digest_job
from core.periods import Period
from core.policy_loader import load_policies
from handlers.alert_render import render_delivery
from handlers.context import AppContext
from storage.db import session_scope
from storage.models import Delivery
from storage.outbox import DigestPayload, decode_payload
from storage.routing import Routing
from tests.fakes.slack import FakeSlack
from tests.fakes.wecom import FakeWeCom
from tests.support.databases import Migrated
from tests.support.kpi_company import ZONE, seed
from tests.support.slack import http_adapter

DIGEST_DAY = datetime(2025, 6, 2, 1, 0, tzinfo=UTC)
"""09:00 in Shanghai on 2 June: `[kpi] digest_day` 2 posts May."""
ROUTING = Routing(platforms=("slack", "wecom"))
NO_KPI_ALERTS = Settings(kpi=KpiConfig(thresholds={}))


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def engine(sqlite_url: str, migrated: Migrated) -> Iterator[Engine]:
    engine = migrated(sqlite_url)
    seed(engine)
    yield engine
    engine.dispose()


def app_at(engine: Engine, clock: Clock) -> AppContext:
    return AppContext(engine=engine, policies=load_policies(), timezone=ZONE, clock=clock)


def digests(engine: Engine) -> list[Delivery]:
    with session_scope(engine) as session:
        rows = session.exec(select(Delivery).order_by(col(Delivery.id))).all()
        return [row for row in rows if isinstance(decode_payload(row.payload), DigestPayload)]


def test_digest_day_queues_the_previous_month_once_per_recipient(engine: Engine) -> None:
    app = app_at(engine, Clock(DIGEST_DAY))
    summary = kpi_digest_job(app, Settings(), ROUTING, DIGEST_DAY)
    assert summary.endswith("; digest 2025-05: 3 queued")
    payloads = {d.id: decode_payload(d.payload) for d in digests(engine)}
    assert all(isinstance(payload, DigestPayload) for payload in payloads.values())
    queued = {
        (d.employee_id, d.platform, d.address, cast(DigestPayload, payloads[d.id]).department)
        for d in digests(engine)
    }
    assert queued == {
        ("M1", "slack", "UM1", "Eng"),  # a manager: their department
        ("M2", "wecom", "lisi", "Sales"),
        ("H1", "slack", "UH1", None),  # HR: the company
    }
    assert {cast(DigestPayload, p).period for p in payloads.values()} == {Period(2025, 5)}
    # A second run that day (a restart, another instance) queues nothing new.
    assert kpi_digest_job(app, Settings(), ROUTING, DIGEST_DAY).endswith("2025-05: 0 queued")
    assert len(digests(engine)) == 3


def test_other_days_only_evaluate_kpi_alerts(engine: Engine) -> None:
    day_after = DIGEST_DAY + timedelta(days=1)
    summary = kpi_digest_job(app_at(engine, Clock(day_after)), Settings(), ROUTING, day_after)
    assert summary.startswith("kpi alerts: opened ")
    assert summary.endswith("digest waits for day 2")
    assert digests(engine) == []


def test_the_dispatcher_delivers_digests_with_the_chart(
    engine: Engine,
    fake_slack: FakeSlack,
    wecom_adapter: WeComAdapter,
    wecom_fake: FakeWeCom,
) -> None:
    clock = Clock(DIGEST_DAY)
    kpi_digest_job(app_at(engine, clock), NO_KPI_ALERTS, ROUTING, DIGEST_DAY)
    dispatcher = Dispatcher(
        engine,
        {"slack": http_adapter(fake_slack), "wecom": wecom_adapter},
        lambda session, delivery: render_delivery(session, delivery, timezone="Asia/Shanghai"),
        worker="test",
        clock=clock,
    )
    for _ in range(10):  # rate limits may hold a message a little: move time, never sleep
        if all(d.state == "sent" for d in digests(engine)):
            break
        asyncio.run(dispatcher.drain_once())
        clock.now += timedelta(seconds=5)
    assert [d.state for d in digests(engine)] == ["sent"] * 3
    texts = [call.params["text"] for call in fake_slack.calls_to("chat.postMessage")]
    assert any(t.startswith("月度绩效摘要") and "2025-05 绩效（Eng）" in t for t in texts)
    assert any("2025-05 绩效（全公司）" in t for t in texts)
    assert len(fake_slack.calls_to("files.completeUploadExternal")) == 2
    assert all(png.startswith(b"\x89PNG") for png in fake_slack.uploads.values())
    [upload] = wecom_fake.calls_to("media/upload")
    assert upload.query["type"] == "image"
    sent = [call.body for call in wecom_fake.calls_to("message/send")]
    assert sent[0]["touser"] == "lisi" and "2025-05 绩效（Sales）" in json.dumps(
        sent[0], ensure_ascii=False
    )
    assert sent[-1]["msgtype"] == "image"
