"""`/metrics` and `/healthz` of a running `coverwatch run` on PostgreSQL.

`/metrics` counts alerts by state, deliveries by state and the send latency; `/healthz` is
200 while the database answers and 503 while it refuses connections (the database is closed
to new connections and the process's sessions are terminated), and 200 again after — the
process itself keeps running through the outage.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlmodel import func, select

from storage.db import make_engine, session_scope
from storage.models import Alert
from tests.fakes.webhook_server import WebhookServer
from tests.support.databases import PG_SERVER
from tests.support.run import (
    SECRET,
    deliveries,
    free_port,
    healthz,
    running,
    seed_overdue,
    settled,
    wait_for,
    write_config,
)


def _metric(text: str, name: str, labels: str) -> float:
    match = re.search(rf"^{re.escape(name)}\{{{re.escape(labels)}\}} (\S+)$", text, re.M)
    assert match is not None, f"{name}{{{labels}}} missing from /metrics:\n{text}"
    return float(match.group(1))


def _alert_states(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            query = select(Alert.state, func.count()).group_by(Alert.state)
            return {state: int(n) for state, n in session.exec(query).all()}
    finally:
        engine.dispose()


def _close_database(name: str, *, allow: bool) -> None:
    admin = PG_SERVER.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allow).lower()}')
        if not allow:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )


@pytest.mark.slow
def test_metrics_and_healthz_of_a_running_process(pg_url: str, tmp_path: Path) -> None:
    seed_overdue(pg_url)
    port = free_port()
    deadline = time.monotonic() + 90
    name = pg_url.rsplit("/", 1)[1]
    with WebhookServer(SECRET) as server:
        config = write_config(tmp_path / "cw.toml", pg_url, port, webhook=server.url)
        with running(config, port, tmp_path / "run.log", stdin=None) as instance:
            wait_for(lambda: settled(pg_url), deadline, "the outbox to drain", instance.log)
            assert healthz(port) == 200
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            states = Counter(d.state for d in deliveries(pg_url))
            webhook_sent = sum(1 for d in deliveries(pg_url) if d.platform == "webhook")

            for state, count in _alert_states(pg_url).items():
                assert _metric(text, "coverwatch_alerts", f'state="{state}"') == count
            assert _metric(text, "coverwatch_deliveries", 'state="sent"') == states["sent"]
            assert "# TYPE coverwatch_send_latency_seconds histogram" in text
            latency = 'platform="webhook"'
            assert _metric(text, "coverwatch_send_latency_seconds_count", latency) == webhook_sent
            assert _metric(text, "coverwatch_send_latency_seconds_sum", latency) > 0
            assert _metric(text, "coverwatch_deliveries_sent_total", latency) == webhook_sent

            _close_database(name, allow=False)
            try:
                wait_for(lambda: healthz(port) == 503, deadline, "/healthz 503", instance.log)

                # The dispatcher meets the outage too, and keeps polling instead of dying.
                def dispatcher_met_it() -> bool:
                    exited = instance.process.poll() is not None
                    return exited or "outbox pass failed" in instance.output()

                wait_for(dispatcher_met_it, deadline, "the dispatcher's failed pass", instance.log)
                assert instance.process.poll() is None, instance.output()
                assert healthz(port) == 503
            finally:
                _close_database(name, allow=True)
            wait_for(lambda: healthz(port) == 200, deadline, "/healthz 200 again", instance.log)
            assert instance.process.poll() is None, "the outage did not stop the process"
