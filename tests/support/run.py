"""Driving real `coverwatch run` processes in tests: seed, configure, start, wait, read state.

Output goes to a file, not a pipe: a chatty process (the console prints every alert) would
block on a full pipe nobody reads. Every wait polls with a deadline.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO

import httpx
from sqlmodel import col, select

from core.periods import Period
from core.policy_loader import load_policies
from storage.accounts import account_policies, sync_accounts
from storage.db import make_engine, session_scope, upgrade
from storage.ledger import run_dues
from storage.models import Delivery, Employee
from tests.fakes.webhook_server import RecordedRequest

COVERWATCH = str(Path(sys.executable).with_name("coverwatch"))
SECRET = "run-test-webhook-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed_overdue(url: str) -> None:
    """An HR person and four accounts whose previous month is unpaid and overdue today: four
    debts, so at least four alerts still send once a debt's lower alerts are inhibited (issue 14),
    and the crash and shutdown tests always find messages claimed behind the one in flight."""
    engine = make_engine(url)
    upgrade(engine)
    policies = load_policies()
    today = datetime.now(UTC).date()
    with session_scope(engine) as session:
        sync_accounts(session, {}, policies, ids=["beijing", "shanghai", "guangzhou", "shenzhen"])
        people = [
            ("HR1", "beijing", "hr"),
            ("E1", "shanghai", "employee"),
            ("E2", "guangzhou", "employee"),
            ("E3", "shenzhen", "employee"),
        ]
        for emp_id, account, role in people:
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
        accounts = account_policies(session, policies)
        run_dues(session, Period.of(today).prev(), accounts, now=datetime.now(UTC))
    engine.dispose()


def write_config(path: Path, url: str, port: int, *, webhook: str | None, extra: str = "") -> Path:
    text = (
        f'[database]\nurl = "{url}"\n'
        f"[http]\nport = {port}\n"
        '[alerts]\nquiet_hours = ""\n'
        f"[scheduler]\noutbox_poll_seconds = 0.3\n{extra}"
    )
    if webhook is not None:
        text += f'[webhook]\nenabled = true\nurl = "{webhook}"\n'
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class Instance:
    process: subprocess.Popen[bytes]
    log: Path
    port: int

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextmanager
def running(
    config: Path, port: int, log: Path, *, args: tuple[str, ...] = (), stdin: int | IO[bytes] | None
) -> Iterator[Instance]:
    """A `coverwatch run` process; SIGTERM (then SIGKILL) when the block ends, if still alive."""
    env = {**os.environ, "COVERWATCH_WEBHOOK__SECRET": SECRET}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [COVERWATCH, "--config", str(config), *args, "run"],
            env=env,
            stdin=stdin if stdin is not None else subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    instance = Instance(process=process, log=log, port=port)
    try:
        yield instance
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def wait_for(
    condition: Callable[[], bool], deadline: float, what: str, log: Path | None = None
) -> None:
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-3000:] if log is not None else ""
    raise AssertionError(f"timed out waiting for {what}\n{tail}")


def healthz(port: int) -> int | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code
    except httpx.HTTPError:
        return None


def deliveries(url: str) -> list[Delivery]:
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            return list(session.exec(select(Delivery).order_by(col(Delivery.id))).all())
    finally:
        engine.dispose()


def settled(url: str) -> bool:
    """Every delivery enqueued, and none pending or claimed."""
    rows = deliveries(url)
    return bool(rows) and all(d.state not in ("pending", "sending") for d in rows)


def received_keys(requests: list[RecordedRequest]) -> Counter[str]:
    """Idempotency keys of the signed `message` events the receiver got, with repeats."""
    return Counter(r.json()["key"] for r in requests if r.signature_ok)
