"""Two `coverwatch run` processes on one PostgreSQL database: every warning exactly once.

Real processes, real HTTP over loopback, a recording webhook receiver that checks signatures.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from core.periods import Period
from core.policy_loader import load_policies
from storage.accounts import account_policies, sync_accounts
from storage.db import make_engine, session_scope, upgrade
from storage.ledger import run_dues
from storage.models import Delivery, Employee, JobRun
from tests.fakes.webhook_server import WebhookServer

SECRET = "e2e-webhook-secret"
COVERWATCH = str(Path(sys.executable).with_name("coverwatch"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _seed(url: str) -> None:
    """An HR person and an account whose previous month is unpaid and overdue today."""
    engine = make_engine(url)
    upgrade(engine)
    policies = load_policies()
    today = datetime.now(UTC).date()
    period = Period.of(today).prev()
    with session_scope(engine) as session:
        sync_accounts(session, {}, policies, ids=["beijing", "shanghai"])
        for emp_id, account, role in [("HR1", "beijing", "hr"), ("E1", "shanghai", "employee")]:
            session.add(
                Employee(
                    employee_id=emp_id,
                    name=emp_id,
                    account_id=account,
                    hire_date=date(2025, 1, 1),
                    enrolled_on=date(2025, 1, 1),
                    salary=Decimal("15000"),
                    role=role,
                )
            )
        session.flush()
        run_dues(session, period, account_policies(session, policies), now=datetime.now(UTC))
    engine.dispose()


def _start(config: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [COVERWATCH, "--config", str(config), "run"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _wait_healthy(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"instance on port {port} never became healthy")


@pytest.mark.slow
def test_two_instances_deliver_each_warning_once(pg_url: str, tmp_path: Path) -> None:
    _seed(pg_url)
    with WebhookServer(SECRET) as server:
        processes = []
        ports = [_free_port(), _free_port()]
        try:
            for port in ports:
                config = tmp_path / f"cw{port}.toml"
                config.write_text(
                    f'[database]\nurl = "{pg_url}"\n'
                    f"[http]\nport = {port}\n"
                    '[alerts]\nquiet_hours = ""\n'
                    "[scheduler]\noutbox_poll_seconds = 0.5\n"
                    f'[webhook]\nenabled = true\nurl = "{server.url}"\n'
                )
                env = {**os.environ, "COVERWATCH_WEBHOOK__SECRET": SECRET}
                processes.append(_start(config, env))
            deadline = time.monotonic() + 60
            for port in ports:
                _wait_healthy(port, deadline)
            engine = make_engine(pg_url)
            expected: set[str] = set()
            while time.monotonic() < deadline:
                with session_scope(engine) as session:
                    rows = session.exec(select(Delivery)).all()
                    expected = {d.idempotency_key for d in rows if d.platform == "webhook"}
                    pending = [d for d in rows if d.state in ("pending", "sending")]
                if expected and not pending:
                    break
                time.sleep(0.3)
            metrics = httpx.get(f"http://127.0.0.1:{ports[0]}/metrics", timeout=5).text
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            outputs = [p.communicate(timeout=30)[0].decode() for p in processes]
        received = Counter(r.json()["key"] for r in server.requests if r.signature_ok)
    assert all(p.returncode == 0 for p in processes), outputs
    assert expected, "the start-up scan found the overdue account and enqueued warnings"
    assert set(received) == expected
    assert all(count == 1 for count in received.values()), received
    with session_scope(engine) as session:
        runs = session.exec(select(JobRun).where(JobRun.job == "scan")).all()
        states = Counter(d.state for d in session.exec(select(Delivery)))
    assert len(runs) == len({run.fire_time for run in runs}), "each scan fire time ran once"
    assert states == Counter({"sent": sum(states.values())})
    assert "coverwatch_deliveries" in metrics
    assert datetime.now(UTC) - runs[0].started_at < timedelta(minutes=5)
