"""Harness of `test_run_slack.py`: the demo company with Slack ids, signed Slack payloads, and a
`coverwatch run` subprocess whose Web API base URL is the loopback fake Slack.

Secrets reach the subprocess as `COVERWATCH_SLACK__*` environment variables, never in its config
file (ARCHITECTURE.md §3 "Config").
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
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as clock_time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import update
from sqlalchemy.engine import Engine

from bot.app import fixed_clock, open_app
from bot.config import Settings
from bot.demo import ACCOUNTS, LATE_ACCOUNT, Story, prepare_database, seed
from handlers.context import AppContext
from handlers.pipeline import handle
from handlers.types import Message, Reply
from storage.db import make_engine, session_scope
from storage.models import Account, Employee
from tests.fakes.slack import FakeSlack
from tests.support.slack import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, fixture, form

COVERWATCH = str(Path(sys.executable).with_name("coverwatch"))
DEMO_DAY = date(2026, 11, 26)
"""Shanghai's November dues (due 2026-11-17) are overdue and unpaid on this day."""
ZONE = ZoneInfo("Asia/Shanghai")
CHANNEL = "C0GENERAL1"
HR_CHANNEL = "C0HR00001"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
Role = Literal["hr", "manager", "outsider", "employee", "at_risk"]
_START_TIMEOUT = 30.0


def wait_until(condition: Callable[[], object], what: str, timeout: float = 20.0) -> None:
    """Poll what the bot subprocess or the fake's thread will make true."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        time.sleep(0.05)


def stays(condition: Callable[[], object], what: str, seconds: float = 1.0) -> None:
    """Assert that something asynchronous does NOT happen: `condition` holds for `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not condition():
            raise AssertionError(f"it happened after all: {what}")
        time.sleep(0.05)


def local(day: date, hour: int = 10) -> datetime:
    """`day` at `hour`:00 in the company's zone (the running bot's clock starts at 10:00)."""
    return datetime.combine(day, clock_time(hour), ZONE)


@dataclass(frozen=True, kw_only=True)
class Company:
    """The seeded demo company; only the cast below has Slack ids (`U` + employee id)."""

    url: str
    engine: Engine
    app: AppContext
    """In-process, clock stopped at 10:00 on DEMO_DAY: what the pipeline answers."""
    story: Story
    people: dict[Role, str]
    """Employee id per role in these tests."""
    accounts: str
    """The `[accounts.<id>]` tables of the running bot's config: the seeded due days, and owners
    (issue 14) with Slack ids: HR owns every account, and the manager also owns the late
    account (so may acknowledge and snooze its company-wide alerts)."""

    @classmethod
    def seed(cls, workdir: Path) -> Company:
        url = f"sqlite:///{workdir}/coverwatch.db"
        engine = make_engine(url)
        prepare_database(engine, reset=False)
        settings = Settings.model_validate({"database": {"url": url}})
        app = open_app(settings, clock=fixed_clock(DEMO_DAY, ZONE))
        seeds = workdir / "seed"
        seeds.mkdir()
        story = seed(app, seeds)
        cast = story.cast
        people: dict[Role, str] = {
            "hr": cast.hr,
            "manager": cast.manager,  # 研发部: people insured in Beijing and Shanghai
            # The Hong Kong team's manager: Shanghai's overdue account is outside that scope.
            "outsider": story.people[cast.hk_employee].manager_id or "",
            "employee": cast.employee,
            "at_risk": cast.at_risk,
        }
        with session_scope(engine) as session:
            session.execute(update(Employee).values(slack_user_id=None))
            for employee_id in people.values():
                session.execute(
                    update(Employee)
                    .where(Employee.employee_id == employee_id)  # type: ignore[arg-type]
                    .values(slack_user_id="U" + employee_id)
                )
            tables = []
            for account_id in ACCOUNTS:
                owners = [cast.hr] + ([cast.manager] if account_id == LATE_ACCOUNT else [])
                table = f"[accounts.{account_id}]\nowners = {json.dumps(owners)}\n"
                account = session.get(Account, account_id)
                if account is not None and account.due_day is not None:
                    table += f"due_day = {account.due_day}\n"
                tables.append(table)
        return cls(
            url=url, engine=engine, app=app, story=story, people=people, accounts="".join(tables)
        )

    def slack_id(self, role: Role) -> str:
        return "U" + self.people[role]

    def ask(self, message: Message) -> Reply:
        return handle(self.app, message)


def slash_fields(
    fake: FakeSlack, user: str, text: str, *, name: str, channel: str = CHANNEL
) -> dict[str, Any]:
    """`/coverwatch text`; its trigger id and (loopback) response_url are named after `name`."""
    return fixture("slash_command") | {
        "user_id": user,
        "text": text,
        "channel_id": channel,
        "trigger_id": f"trigger.{name}",
        "response_url": fake.response_url(name),
    }


def slash(fake: FakeSlack, user: str, text: str, *, name: str, channel: str = CHANNEL) -> str:
    """The slash command as the form body Slack posts to the Request URL."""
    return form(slash_fields(fake, user, text, name=name, channel=channel))


def event(kind: str, user: str, text: str, *, channel: str, event_id: str) -> str:
    """An Events API callback (`app_mention` or a DM `message`) with the given envelope id."""
    body = fixture("app_mention" if kind == "app_mention" else "message_im")
    body["event"] |= {"user": user, "text": text, "channel": channel}
    body["event_id"] = event_id
    return json.dumps(body)


def click(
    fake: FakeSlack, user: str, action_id: str, value: str, message_ref: str, *, name: str
) -> str:
    """A block_actions click on the bot's message `channel:ts`, answered at response_url `name`."""
    channel, _, ts = message_ref.partition(":")
    payload = fixture("block_actions")
    payload["user"]["id"] = user
    payload["container"] |= {"channel_id": channel, "message_ts": ts}
    payload["channel"]["id"] = channel
    payload["message"]["ts"] = ts
    payload["trigger_id"] = f"trigger.{name}"
    payload["response_url"] = fake.response_url(name)
    payload["actions"][0] |= {"action_id": action_id, "value": value}
    return form({"payload": json.dumps(payload)})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Bot:
    """One `coverwatch run` subprocess; `restart` keeps its config, database and port."""

    def __init__(self, config: Path, env: dict[str, str], port: int, log: Path) -> None:
        self.config, self.env, self.port, self.log = config, env, port, log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                [COVERWATCH, "--config", str(self.config), "--today", DEMO_DAY.isoformat(), "run"],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        wait_until(self._healthy, f"coverwatch run healthy on {self.port}", _START_TIMEOUT)

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"coverwatch run exited:\n{self.output()}")
        try:
            return httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=_START_TIMEOUT)
        self.process = None
        assert code == 0, self.output()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def post(self, body: str, headers: dict[str, str]) -> httpx.Response:
        return httpx.post(f"{self.base}/slack/events", content=body.encode(), headers=headers)


@contextmanager
def start_bot(
    workdir: Path, company: Company, fake: FakeSlack, *, mode: Literal["http", "socket"]
) -> Iterator[Bot]:
    port = _free_port()
    config = workdir / f"coverwatch-{mode}.toml"
    config.write_text(
        f'[database]\nurl = "{company.url}"\n'
        f"[http]\nport = {port}\n"
        '[alerts]\nquiet_hours = ""\n'
        "[scheduler]\noutbox_poll_seconds = 0.2\n"
        f'[slack]\nenabled = true\nmode = "{mode}"\nhr_groups = ["{HR_CHANNEL}"]\n'
        f'api_base_url = "{fake.api_url}"\n' + company.accounts
    )
    secrets = {"COVERWATCH_SLACK__BOT_TOKEN": BOT_TOKEN}
    if mode == "http":
        secrets["COVERWATCH_SLACK__SIGNING_SECRET"] = SIGNING_SECRET
    else:
        secrets["COVERWATCH_SLACK__APP_TOKEN"] = APP_TOKEN
    env = {**os.environ, **secrets}
    bot = Bot(config, env, port, workdir / f"run-{mode}.log")
    bot.start()
    try:
        yield bot
    finally:
        bot.stop()
