"""`coverwatch run` against the fake DingTalk: the seeded company, the process, the waits.

Shared by `test_run_dingtalk.py`; kept apart so the test file reads as the scenarios.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlmodel import col, select

from adapters.dingtalk import render
from bot.app import fixed_clock, open_app
from bot.config import DatabaseConfig, Settings
from bot.demo import LATE_ACCOUNT, prepare_database, seed
from core.locales import ZH_CN
from handlers.context import AppContext
from handlers.pipeline import handle
from handlers.types import Action, Message
from storage.db import make_engine, session_scope
from storage.models import Alert, Delivery, Employee
from tests.fakes.dingtalk import FakeDingTalk
from tests.support.dingtalk import ROBOT_CODE, payload

COVERWATCH = str(Path(sys.executable).with_name("coverwatch"))
DAY = date(2026, 11, 26)
HR_GROUP = "cidHRGroup0001=="
EXTRA_FINANCE = 8
"""Finance clerks added to the demo company, so one warning needs two batchSend calls."""
IN_SCOPE_MANAGER = "E0006"  # 市场部: most of its people are insured in Shanghai
"""Sees the late account's alerts; acts on them as one of its `owners` (issue 14 item 5)."""
OUT_OF_SCOPE_MANAGER = "E0008"  # 香港业务部: Hong Kong only


def ding(employee_id: str) -> str:
    return f"dt{employee_id}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Company:
    """The demo company with its HR, finance and a few others on DingTalk."""

    def __init__(self, workdir: Path) -> None:
        self.url = f"sqlite:///{workdir}/coverwatch.db"
        prepare_database(make_engine(self.url), reset=True)
        settings = Settings(database=DatabaseConfig(url=self.url))
        self.app: AppContext = open_app(settings, clock=fixed_clock(DAY, ZoneInfo("Asia/Shanghai")))
        self.story = seed(self.app, workdir)
        self.at_risk = self.story.cast.at_risk
        with session_scope(self.app.engine) as session:
            for employee in session.exec(select(Employee)):
                employee.dingtalk_user_id = None
                session.add(employee)
            for n in range(EXTRA_FINANCE):
                session.add(
                    Employee(
                        employee_id=f"F09{n:02d}",
                        name=f"财务{n}",
                        department="财务部",
                        account_id=LATE_ACCOUNT,
                        hire_date=date(2020, 1, 1),
                        enrolled_on=date(2020, 1, 1),
                        salary=Decimal("12000"),
                        role="finance",
                    )
                )
            session.flush()
            roles = col(Employee.role).in_(("hr", "finance"))
            named = col(Employee.employee_id).in_(
                (self.at_risk, IN_SCOPE_MANAGER, OUT_OF_SCOPE_MANAGER)
            )
            for employee in session.exec(select(Employee).where(roles | named)):
                employee.dingtalk_user_id = ding(employee.employee_id)
                session.add(employee)

    def answer(self, user: str, text: str, *, direct: bool) -> dict[str, Any]:
        """What the bot must post to the session webhook, computed in this process."""
        message = Message(
            platform="dingtalk",
            user_id=user,
            conversation_id="expected",
            is_direct=direct,
            text=text,
            event_id=f"expected-{user}-{text}",
        )
        return render.webhook_body(handle(self.app, message), ZH_CN)

    def click_answer(self, user: str, value: str) -> dict[str, Any]:
        """The robot message answering an ack click (for a click that changes nothing)."""
        action = Action(
            platform="dingtalk",
            user_id=user,
            conversation_id=HR_GROUP,
            action_id="ack",
            value=value,
            event_id=f"expected-click-{user}",
        )
        _key, param = render.robot_message(handle(self.app, action), ZH_CN)
        return dict(json.loads(param))

    def overdue(self) -> Alert | None:
        """The demo's overdue-account alert, once the bot's start-up scan has opened it."""
        with session_scope(self.app.engine) as session:
            query = select(Alert).where(Alert.kind == "overdue", Alert.account_id == LATE_ACCOUNT)
            return session.exec(query).one_or_none()

    def overdue_sent(self) -> Alert:
        """Wait until every DingTalk delivery of the overdue alert is sent; the alert."""

        def sent() -> bool:
            alert = self.overdue()
            if alert is None or alert.id is None:
                return False
            return {d.state for d in self.deliveries(alert.id)} == {"sent"}

        wait_until(sent, "every overdue warning to be sent")
        alert = self.overdue()
        assert alert is not None
        return alert

    def retried(self) -> list[Delivery]:
        """DingTalk deliveries of any alert that needed more than one attempt."""
        return [row for row in self.deliveries() if row.attempts > 0]

    def deliveries(self, alert_id: int | None = None) -> list[Delivery]:
        """The alert's DingTalk deliveries; every alert's when `alert_id` is None."""
        with session_scope(self.app.engine) as session:
            query = select(Delivery).where(Delivery.platform == "dingtalk")
            if alert_id is not None:
                query = query.where(Delivery.alert_id == alert_id)
            return list(session.exec(query))


class Bot:
    """One `coverwatch run` process aimed at the fake; output goes to a log file."""

    def __init__(self, company: Company, fake: FakeDingTalk, workdir: Path, extra: str) -> None:
        self.port = free_port()
        self.log = workdir / f"run-{self.port}.log"
        config = workdir / f"coverwatch-{self.port}.toml"
        config.write_text(
            f'[database]\nurl = "{company.url}"\n'
            f"[http]\nport = {self.port}\n"
            '[alerts]\nquiet_hours = ""\n'
            "[scheduler]\noutbox_poll_seconds = 0.3\n"
            "[dingtalk]\nenabled = true\n"
            f'client_id = "{fake.client_id}"\nrobot_code = "{ROBOT_CODE}"\n'
            f'api_base_url = "{fake.base_url}"\ngateway_url = "{fake.base_url}"\n' + extra,
            encoding="utf-8",
        )
        env = {**os.environ, "COVERWATCH_DINGTALK__CLIENT_SECRET": fake.client_secret}
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [COVERWATCH, "--config", str(config), "--today", DAY.isoformat(), "run"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def healthy(self) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextmanager
def running(company: Company, fake: FakeDingTalk, workdir: Path, extra: str = "") -> Iterator[Bot]:
    """A started bot whose stream client has (re)connected to the fake."""
    connections = fake.connections
    bot = Bot(company, fake, workdir, extra)
    try:
        wait_until(lambda: bot.healthy() or bot.process.poll() is not None, "the bot to start")
        assert bot.process.poll() is None, bot.log.read_text(encoding="utf-8")
        wait_until(lambda: fake.connections > connections, "the stream client to connect")
        yield bot
    finally:
        output = bot.stop()
    assert bot.process.returncode == 0, output


def bot_message(
    fake: FakeDingTalk, user: str, text: str, session: str, **fields: Any
) -> dict[str, Any]:
    return payload(
        "bot_message_single",
        senderStaffId=user,
        text={"content": text},
        robotCode=ROBOT_CODE,
        sessionWebhook=f"{fake.base_url}/robot/sendBySession?session={session}",
        sessionWebhookExpiredTime=int(time.time() * 1000) + 3_600_000,
        **fields,
    )


def posts(fake: FakeDingTalk, session: str) -> list[dict[str, Any]]:
    return [
        p for s, p in zip(fake.webhook_sessions, fake.webhook_posts, strict=True) if s == session
    ]
