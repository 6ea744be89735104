"""Driving a WeCom-enabled `coverwatch run` in tests: the company, the process, callbacks, state.

The demo company (bot/demo.py) with WeCom ids on four of its people. Callbacks are encrypted and
signed as WeCom does (WXBizMsgCrypt, `tests.support.wecom`); the process writes its log
to a file (a pipe nobody reads while it runs would block it); every wait polls with a deadline.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import text, update
from sqlmodel import Session, col, select

from adapters.wecom import render
from bot.app import fixed_clock, open_app
from bot.config import Settings, load_settings
from bot.demo import LATE_ACCOUNT, seed
from bot.wiring import routing_from, rules_from
from core.periods import Period
from handlers.pipeline import handle
from handlers.types import Message
from storage.db import make_engine, session_scope, upgrade
from storage.models import Account, Alert, Delivery, Employee
from storage.scan import run_scan
from tests.fakes.wecom import FakeWeCom
from tests.support.wecom import (
    AES_KEY,
    AGENT_ID,
    CORP_ID,
    HR_CHAT,
    SECRET,
    TOKEN,
    encrypted_post,
    fixture_xml,
)

COVERWATCH = str(Path(sys.executable).with_name("coverwatch"))
TODAY = date(2025, 6, 18)
ZONE = ZoneInfo("Asia/Shanghai")
HR, MANAGER, OUTSIDER, EMPLOYEE = "hr.wang", "mgr.li", "mgr.wong", "emp.sun"
"""WeCom ids of HR (E0003), the 研发部 manager (E0002), the Hong Kong manager (E0008) and the
Shanghai employee whose account is overdue (the story's `at_risk`)."""
T = TypeVar("T")


class ShiftedClock:
    """The fake's clock: the wall clock, moved forward when a test lets a minute or a day pass."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass(frozen=True)
class Company:
    path: Path
    people: dict[str, str]
    """WeCom id -> employee id."""
    unpaid: Period
    hire: str
    """The new hire (employee id) whose enrollment deadline is near."""
    accounts: dict[str, dict[str, Any]]
    """`[accounts.<id>]` for the bot: HR owns (issue 14) the late account and the hire's."""


def seed_company(folder: Path) -> Company:
    """The demo company as of TODAY; only the four people above use WeCom."""
    path = folder / "company.db"
    settings = Settings.model_validate({"database": {"url": f"sqlite:///{path}"}})
    engine = make_engine(settings.database.url)
    upgrade(engine)
    story = seed(open_app(settings, clock=fixed_clock(TODAY, ZONE)), folder)
    people = {HR: story.cast.hr, MANAGER: story.cast.manager, OUTSIDER: "E0008"}
    people[EMPLOYEE] = story.cast.at_risk
    with session_scope(engine) as session:
        session.execute(update(Employee).values(wecom_user_id=None))
        for wecom_id, employee_id in people.items():
            session.execute(
                update(Employee)
                .where(col(Employee.employee_id) == employee_id)
                .values(wecom_user_id=wecom_id)
            )
        hire_account = session.exec(
            select(Employee.account_id).where(col(Employee.employee_id) == story.cast.new_hire)
        ).one()
        # A configured account takes its settings from the config: keep the demo's due day.
        due_days = {a.id: a.due_day for a in session.exec(select(Account)) if a.due_day}
    with engine.connect() as connection:  # one file to copy: fold the WAL back in
        connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    engine.dispose()
    accounts: dict[str, dict[str, Any]] = {}
    for account in (LATE_ACCOUNT, hire_account):
        accounts[account] = {"owners": [story.cast.hr]}
        if account in due_days:
            accounts[account]["due_day"] = due_days[account]
    return Company(
        path=path,
        people=people,
        unpaid=Period.parse(story.late.period),
        hire=story.cast.new_hire,
        accounts=accounts,
    )


class Bot:
    """`coverwatch run` with WeCom enabled, as an operator starts it: config file + env secrets."""

    def __init__(
        self,
        db_url: str,
        fake: FakeWeCom,
        folder: Path,
        accounts: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        """`accounts`: `[accounts.<id>]` sections, e.g. `owners` (issue 14)."""
        self.db_url, self.fake = db_url, fake
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.config = folder / "coverwatch.toml"
        sections = "".join(
            f"[accounts.{account}]\n"
            + "".join(f"{key} = {json.dumps(value)}\n" for key, value in fields.items())
            for account, fields in (accounts or {}).items()
        )
        self.config.write_text(
            f'[database]\nurl = "{db_url}"\n'
            f"[http]\nport = {self.port}\n"
            '[alerts]\nquiet_hours = ""\n'
            f"{sections}"
            "[scheduler]\noutbox_poll_seconds = 0.2\n"
            f'[wecom]\nenabled = true\ncorp_id = "{CORP_ID}"\nagent_id = {AGENT_ID}\n'
            f'hr_groups = ["{HR_CHAT}"]\napi_base_url = "{fake.base_url}"\n'
        )
        self.secrets = {
            "COVERWATCH_WECOM__SECRET": SECRET,
            "COVERWATCH_WECOM__TOKEN": TOKEN,
            "COVERWATCH_WECOM__ENCODING_AES_KEY": AES_KEY,
        }
        self.engine = make_engine(db_url)
        self.process: subprocess.Popen[bytes] | None = None
        self.log = folder / "coverwatch.log"
        """The process writes here, not to a pipe nobody reads while it runs (it would block)."""

    def start(self, today: date = TODAY) -> Bot:
        env = {**os.environ, **self.secrets}
        command = [COVERWATCH, "--config", str(self.config), "--today", today.isoformat(), "run"]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        wait_until(lambda: self._healthy(), what="the bot to answer /healthz")
        return self

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"coverwatch run exited: {self.log.read_text()}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
            assert self.process.returncode == 0, self.log.read_text()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def post(
        self, xml: str, *, age: int = 0, corp_id: str = CORP_ID, **query: str
    ) -> httpx.Response:
        """A callback POST, encrypted and signed as WeCom does, sent `age` seconds ago."""
        signed, body = encrypted_post(xml, timestamp=int(time.time()) - age, corp_id=corp_id)
        url = f"{self.url}/wecom/callback?{urlencode({**signed, **query})}"
        return httpx.post(url, content=body, timeout=10)

    def session(self) -> Session:
        return Session(self.engine)


def wait_until(check: Callable[[], T], *, what: str, seconds: float = 30) -> T:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def text_xml(user: str, content: str, msg_id: str) -> str:
    return fixture_xml(
        "text_message",
        FromUserName=user,
        Content=content,
        MsgId=msg_id,
        CreateTime=str(int(time.time())),
    )


def click_xml(user: str, key: str, task_id: str, response_code: str, created: int) -> str:
    return fixture_xml(
        "template_card_event",
        FromUserName=user,
        EventKey=key,
        TaskId=task_id,
        ResponseCode=response_code,
        CreateTime=str(created),
    )


def sent_to(fake: FakeWeCom, user: str, outcome: str = "ok") -> list[dict[str, Any]]:
    return [c.body for c in fake.calls_to("message/send", outcome) if c.body.get("touser") == user]


def _alerts(kind: str, match: dict[str, str]) -> Any:
    """Alerts of `kind` matching every column in `match`; the late account's when it is empty
    (the demo has other accounts with alerts of their own: Hangzhou's, issue 13/17)."""
    query = select(Alert).where(Alert.kind == kind)
    for column, value in (match or {"account_id": LATE_ACCOUNT}).items():
        query = query.where(getattr(Alert, column) == value)
    return query


def alert_of(bot: Bot, kind: str, **match: str) -> Alert:
    with bot.session() as session:
        return session.exec(_alerts(kind, match)).one()


def deliveries(bot: Bot, address: str | None = None) -> list[Delivery]:
    with bot.session() as session:
        query = select(Delivery).where(Delivery.platform == "wecom").order_by(col(Delivery.id))
        if address is not None:
            query = query.where(Delivery.address == address)
        return list(session.exec(query))


def cover_answer(bot: Bot, user: str) -> list[dict[str, Any]]:
    """What the employee should read: the pipeline's answer, as the adapter renders it."""
    settings = Settings.model_validate({"database": {"url": bot.db_url}})
    app = open_app(settings, clock=fixed_clock(TODAY, ZONE))
    event = Message(
        platform="wecom",
        user_id=user,
        conversation_id=user,
        is_direct=True,
        text="我的医保",
        event_id="x",
    )
    reply = handle(app, event)
    assert reply.card is not None and not reply.card.buttons
    return render.markdown_messages(reply, reply.card, with_text=False)


def alert_or_none(bot: Bot, kind: str, **match: str) -> Alert | None:
    with bot.session() as session:
        return session.exec(_alerts(kind, match)).one_or_none()


def button_keys(body: dict[str, Any]) -> list[str]:
    card = body.get("template_card") or {}
    return [button["key"] for button in card.get("button_list", [])]


def scan_before_start(bot: Bot) -> Alert:
    """Today's scan, as the bot's start-up run does it (which then finds nothing new)."""
    settings = load_settings(bot.config, environ=bot.secrets)
    app = open_app(settings, clock=fixed_clock(TODAY, ZONE))
    routing = routing_from(settings)
    rules = rules_from(settings)
    run_scan(
        app.engine, as_of=TODAY, now=app.now(), policies=app.policies, rules=rules, routing=routing
    )
    return alert_of(bot, "overdue")
