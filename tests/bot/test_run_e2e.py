"""Two `coverwatch run` processes on one PostgreSQL database: every warning exactly once.

Real processes, real HTTP over loopback, a recording webhook receiver that checks signatures.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from storage.db import make_engine, session_scope
from storage.models import Delivery, JobRun
from tests.fakes.webhook_server import WebhookServer
from tests.support.run import free_port, seed_overdue

SECRET = "e2e-webhook-secret"
COVERWATCH = str(Path(sys.executable).with_name("coverwatch"))


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
    seed_overdue(pg_url)
    with WebhookServer(SECRET) as server:
        processes = []
        ports = [free_port(), free_port()]
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
