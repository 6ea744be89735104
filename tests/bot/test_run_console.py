"""`coverwatch run` on the demo database with no chat platform: the console is the platform.

Day D: the running bot prints the demo company's warnings on stdout, and `ack ID` typed on
stdin (kept open, as a terminal would be) acknowledges one through the same pipeline as any
platform. Day D+1: a restarted bot runs the day's missed scan and escalation check on start-up
(the scheduler's catch-up): the acknowledged alert gets no new reminder and is not escalated,
while an alert nobody acknowledged gets both.
"""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from core.locales import ZH_CN
from handlers.i18n import translate
from storage.db import make_engine, session_scope
from storage.models import Alert, AlertEvent, JobRun
from storage.outbox import AlertPayload, decode_payload
from tests.support.run import (
    COVERWATCH,
    deliveries,
    free_port,
    running,
    settled,
    wait_for,
    write_config,
)

DAY = date(2026, 10, 27)
"""The demo story on that day (bot/demo_story.py): Shanghai's October dues are overdue with the
suspension still ahead; Hangzhou's September dues are past their suspension date."""
HR = "E0003"
"""The demo's HR person (bot/demo_company.py: the cast is fixed by the seed)."""


def _alert(url: str, kind: str, account: str = "shanghai") -> Alert:
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            query = select(Alert).where(Alert.kind == kind, Alert.account_id == account)
            return session.exec(query).one()
    finally:
        engine.dispose()


def _stages(url: str, alert_id: int | None) -> set[str]:
    payloads = [decode_payload(d.payload) for d in deliveries(url) if d.alert_id == alert_id]
    return {payload.stage for payload in payloads if isinstance(payload, AlertPayload)}


def _job_ran(url: str, job: str, day: date) -> bool:
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            runs = session.exec(select(JobRun).where(JobRun.job == job)).all()
            return any(r.status == "done" and r.started_at.date() >= day for r in runs)
    finally:
        engine.dispose()


@pytest.mark.slow
def test_console_run_pushes_warnings_and_ack_stops_renotification(
    sqlite_url: str, tmp_path: Path
) -> None:
    seeded = subprocess.run(
        [COVERWATCH, "--db", sqlite_url, "--today", DAY.isoformat(), "demo", "--reset"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert seeded.returncode == 0, seeded.stderr.decode()
    overdue = _alert(sqlite_url, "overdue")
    imminent = _alert(sqlite_url, "suspension_imminent", "hangzhou")
    port = free_port()
    config = write_config(tmp_path / "cw.toml", sqlite_url, port, webhook=None)
    deadline = time.monotonic() + 120

    # Day D: the warnings reach the console, and HR acknowledges the overdue one there.
    today = ("--today", DAY.isoformat())
    log = tmp_path / "day1.log"
    with running(config, port, log, args=today, stdin=subprocess.PIPE) as bot:
        assert bot.process.stdin is not None
        wait_for(lambda: settled(sqlite_url), deadline, "the warnings to go out", log)
        printed = bot.output()
        assert f"--- to {HR} (console message" in printed
        assert f"[ack {overdue.id}]" in printed and f"[ack {imminent.id}]" in printed
        bot.process.stdin.write(f"/as {HR}\nack {overdue.id}\n".encode())
        bot.process.stdin.flush()
        done = translate(ZH_CN, "ack.done", id=overdue.id)
        wait_for(lambda: done in bot.output(), deadline, "the ack reply", log)
        bot.process.send_signal(signal.SIGTERM)
        assert bot.process.wait(timeout=30) == 0, bot.output()
    acked = _alert(sqlite_url, "overdue")
    assert (acked.state, acked.acknowledged_by, acked.acknowledged_via) == (
        "acknowledged",
        HR,
        "console",
    )
    before = {d.idempotency_key for d in deliveries(sqlite_url)}

    # Day D+1: the restarted bot runs the missed scan and escalation check on start-up.
    next_day = DAY + timedelta(days=1)
    log = tmp_path / "day2.log"
    with running(
        config, port, log, args=("--today", next_day.isoformat()), stdin=subprocess.PIPE
    ) as bot:
        wait_for(lambda: _job_ran(sqlite_url, "scan", next_day), deadline, "scan", log)
        wait_for(lambda: _job_ran(sqlite_url, "escalation", next_day), deadline, "escalation", log)
        wait_for(lambda: settled(sqlite_url), deadline, "the new reminders to go out", log)
        printed = bot.output()

    new = [d for d in deliveries(sqlite_url) if d.idempotency_key not in before]
    assert new, "the next day brought new reminders"
    assert overdue.id not in {d.alert_id for d in new}, "the acknowledged alert stays quiet"
    assert imminent.id in {d.alert_id for d in new}, "the unacknowledged alert goes on"
    assert "escalation-1" in _stages(sqlite_url, imminent.id)
    assert f"[ack {imminent.id}]" in printed and f"[ack {overdue.id}]" not in printed
    engine = make_engine(sqlite_url)
    with session_scope(engine) as session:
        query = select(AlertEvent).where(AlertEvent.event == "escalated")
        escalated = {event.alert_id for event in session.exec(query)}
    engine.dispose()
    assert imminent.id in escalated and overdue.id not in escalated
    assert _alert(sqlite_url, "overdue").escalation_level == 0
