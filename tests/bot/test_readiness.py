"""`/readyz`'s checks on real components: the database, adapters' links, the scheduler, and
an outbox that does or does not keep up (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from adapters.console import ConsoleAdapter
from adapters.dingtalk import DingTalkAdapter
from bot.readiness import STALE_BACKLOG, exposition, readiness
from core.locales import ZH_CN
from core.periods import Period
from storage.db import make_engine, session_scope
from storage.outbox import DigestPayload, NewDelivery, enqueue

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


def queue(engine: Engine, key: str, due: datetime) -> None:
    payload = DigestPayload(locale=ZH_CN, period=Period(2026, 11), as_of=NOW, sla_minutes=60)
    item = NewDelivery(
        idempotency_key=key, platform="console", address="E1", payload=payload, not_before=due
    )
    with session_scope(engine) as session:
        enqueue(session, [item], now=due)


def test_ready_with_a_fresh_backlog_and_no_link_to_keep(engine: Engine) -> None:
    queue(engine, "due-now", NOW - timedelta(minutes=1))
    queue(engine, "held", NOW + timedelta(hours=8))  # quiet hours: waiting on purpose
    state = readiness(
        engine, {"console": ConsoleAdapter.for_runtime()}, scheduler_running=True, now=NOW
    )
    assert state.ok and state.document["status"] == "ok"
    checks = state.document["checks"]
    assert checks["outbox"] == {"ok": True, "backlog": 1, "oldest_pending_seconds": 60.0}
    assert checks["adapter:console"] == {"ok": True, "detail": "no persistent connection"}


def test_a_stale_backlog_a_stopped_scheduler_and_a_down_link_fail(engine: Engine) -> None:
    queue(engine, "stuck", NOW - STALE_BACKLOG - timedelta(seconds=1))
    dingtalk = DingTalkAdapter(client_id="id", client_secret="secret", robot_code="id")
    state = readiness(engine, {"dingtalk": dingtalk}, scheduler_running=False, now=NOW)
    assert not state.ok and state.document["status"] == "fail"
    checks = state.document["checks"]
    assert checks["adapter:dingtalk"] == {"ok": False, "detail": "not started"}
    assert checks["scheduler"]["ok"] is False and checks["outbox"]["ok"] is False
    text = exposition(state, Counter({("scan", "done"): 3, ("scan", "failed"): 1}), NOW)
    assert 'coverwatch_adapter_up{platform="dingtalk"} 0' in text
    assert 'coverwatch_job_runs_total{job="scan",result="failed"} 1' in text
    assert "coverwatch_outbox_backlog 1" in text


def test_an_unreachable_database_fails() -> None:
    engine = make_engine("postgresql://postgres@127.0.0.1:1/none")
    state = readiness(engine, {}, scheduler_running=True, now=NOW)
    assert state.document["checks"]["database"] == {"ok": False, "detail": "down"}
    assert state.document["checks"]["outbox"] == {"ok": False, "detail": "database down"}
