"""Issue 14 end to end: one `coverwatch run` with Slack and WeCom both enabled (loopback fakes).

The demo company as of DEMO_DAY. HR owns Shanghai and reaches only WeCom; Hangzhou's owner has
no id anywhere, so its alerts fall back to the HR lead (finance, on Slack); the employee insured
in Hangzhou, whose cover is suspended, hears privately ([alerts] notify_employees); HR
acknowledges from the WeCom card, and the HR channel's Slack copy of the card says so.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.demo import ACCOUNTS, LATE_ACCOUNT, SUSPENDED_ACCOUNT
from storage.models import Account, Alert, Delivery, Employee
from storage.outbox import CoverNoticePayload, decode_payload
from storage.routing import UNREACHABLE
from tests.fakes.slack import FakeSlack
from tests.fakes.wecom import FakeWeCom
from tests.support.run import free_port
from tests.support.run_slack import HR_CHANNEL, Bot, Company, wait_until
from tests.support.run_wecom import ShiftedClock, button_keys, click_xml, sent_to
from tests.support.slack import BOT_TOKEN, SIGNING_SECRET
from tests.support.wecom import AES_KEY, AGENT_ID, CORP_ID, HR_CHAT, SECRET, TOKEN, encrypted_post

pytestmark = pytest.mark.slow

HR_WECOM = "hr.wang"


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Company:
    """HR on WeCom only; finance (the HR lead) and the Hangzhou employee on Slack only; the
    Hangzhou owner (a plain employee) on neither."""
    company = Company.seed(tmp_path_factory.mktemp("two-platforms"))
    cast, story = company.story.cast, company.story
    with Session(company.engine) as session:
        session.execute(update(Employee).values(slack_user_id=None, wecom_user_id=None))
        ids = {cast.hr: (None, HR_WECOM), cast.finance: ("U" + cast.finance, None)}
        ids[story.estimated] = ("U" + story.estimated, None)
        for employee_id, (slack, wecom) in ids.items():
            session.execute(
                update(Employee)
                .where(col(Employee.employee_id) == employee_id)
                .values(slack_user_id=slack, wecom_user_id=wecom)
            )
        session.commit()
    return company


def _config(company: Company, slack: FakeSlack, wecom: FakeWeCom, port: int) -> str:
    cast = company.story.cast
    tables = []
    with Session(company.engine) as session:
        for account_id in ACCOUNTS:
            owner = cast.employee if account_id == SUSPENDED_ACCOUNT else cast.hr
            table = f"[accounts.{account_id}]\nowners = {json.dumps([owner])}\n"
            account = session.get(Account, account_id)
            if account is not None and account.due_day is not None:
                table += f"due_day = {account.due_day}\n"
            tables.append(table)
    return (
        f'[database]\nurl = "{company.url}"\n'
        f"[http]\nport = {port}\n"
        f'[alerts]\nquiet_hours = ""\nnotify_employees = true\nhr_leads = ["{cast.finance}"]\n'
        "[scheduler]\noutbox_poll_seconds = 0.2\n"
        f'[slack]\nenabled = true\nmode = "http"\nhr_groups = ["{HR_CHANNEL}"]\n'
        f'api_base_url = "{slack.api_url}"\n'
        f'[wecom]\nenabled = true\ncorp_id = "{CORP_ID}"\nagent_id = {AGENT_ID}\n'
        f'hr_groups = ["{HR_CHAT}"]\napi_base_url = "{wecom.base_url}"\n' + "".join(tables)
    )


@pytest.fixture(scope="module")
def running(
    company: Company, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Bot, FakeSlack, FakeWeCom]]:
    workdir = tmp_path_factory.mktemp("two-platforms-run")
    wecom = FakeWeCom(
        corp_id=CORP_ID,
        secret=SECRET,
        agent_id=AGENT_ID,
        users=frozenset({HR_WECOM}),
        chats=frozenset({HR_CHAT}),
        clock=ShiftedClock(),
    )
    with FakeSlack(bot_token=BOT_TOKEN) as slack, wecom.running():
        port = free_port()
        config = workdir / "coverwatch.toml"
        config.write_text(_config(company, slack, wecom, port))
        env = {
            **os.environ,
            "NO_PROXY": "127.0.0.1,localhost",
            "COVERWATCH_SLACK__BOT_TOKEN": BOT_TOKEN,
            "COVERWATCH_SLACK__SIGNING_SECRET": SIGNING_SECRET,
            "COVERWATCH_WECOM__SECRET": SECRET,
            "COVERWATCH_WECOM__TOKEN": TOKEN,
            "COVERWATCH_WECOM__ENCODING_AES_KEY": AES_KEY,
        }
        bot = Bot(config, env, port, workdir / "run.log")
        bot.start()
        try:
            yield bot, slack, wecom
        finally:
            bot.stop()


def _alert(company: Company, kind: str, account: str) -> Alert:
    def found() -> Alert | None:
        query = select(Alert).where(Alert.kind == kind, Alert.account_id == account)
        with Session(company.engine) as session:
            return session.exec(query).one_or_none()

    wait_until(found, f"the start-up scan to open {kind} for {account}")
    alert = found()
    assert alert is not None
    return alert


def _deliveries(company: Company) -> list[Delivery]:
    with Session(company.engine) as session:
        return list(session.exec(select(Delivery).order_by(col(Delivery.id))))


def _settled(company: Company) -> list[Delivery]:
    rows = _deliveries(company)
    return rows if rows and not any(d.state in ("pending", "sending") for d in rows) else []


def _dm_users(slack: FakeSlack) -> set[str]:
    return {c.params["users"] for c in slack.calls_to("conversations.open")}


def test_owners_fallback_employee_notice_and_a_wecom_ack_seen_on_slack(
    running: tuple[Bot, FakeSlack, FakeWeCom], company: Company
) -> None:
    bot, slack, wecom = running
    cast, story = company.story.cast, company.story
    late = _alert(company, "overdue", LATE_ACCOUNT)
    suspended = _alert(company, "suspension_imminent", SUSPENDED_ACCOUNT)
    wait_until(lambda: _settled(company), "every delivery settled", timeout=60)
    rows = _deliveries(company)

    # The owner is routed on the one platform where HR has an id; the groups on both.
    mine = {(d.platform, d.address, d.state) for d in rows if d.alert_id == late.id}
    assert mine == {
        ("wecom", HR_WECOM, "sent"),
        ("wecom", HR_CHAT, "sent"),
        ("slack", HR_CHANNEL, "sent"),
    }
    assert "U" + cast.hr not in _dm_users(slack)

    # Hangzhou's owner cannot be reached anywhere: recorded, and the HR lead hears on Slack.
    fallback = {(d.platform, d.address) for d in rows if d.alert_id == suspended.id}
    assert (UNREACHABLE, cast.employee) in fallback
    assert ("slack", "U" + cast.finance) in fallback
    assert "U" + cast.finance in _dm_users(slack)

    # The insured employee hears privately, once, without an amount; never in a group.
    notices = [d for d in rows if isinstance(decode_payload(d.payload), CoverNoticePayload)]
    assert [(d.employee_id, d.platform, d.is_group, d.state) for d in notices] == [
        (story.estimated, "slack", False, "sent")
    ]
    assert "U" + story.estimated in _dm_users(slack)
    posts = [c.params for c in slack.calls_to("chat.postMessage")]
    told = [p for p in posts if "杭州" in p.get("text", "") and "社保提醒" in p["text"]]
    assert len(told) == 1 and told[0]["channel"] != HR_CHANNEL
    assert "¥" not in told[0]["text"]

    # HR acknowledges from the WeCom card; the Slack copy in the HR channel shows who.
    ack = f"ack:{late.id}"
    [card] = [b["template_card"] for b in sent_to(wecom, HR_WECOM) if button_keys(b)[:1] == [ack]]
    xml = click_xml(HR_WECOM, ack, card["task_id"], wecom.click(card["task_id"]), int(time.time()))
    query, body = encrypted_post(xml, timestamp=int(time.time()))
    answer = httpx.post(f"{bot.base}/wecom/callback?{urlencode(query)}", content=body, timeout=10)
    assert answer.status_code == 200

    def acknowledged() -> Alert | None:
        with Session(company.engine) as session:
            alert = session.get(Alert, late.id)
            return alert if alert is not None and alert.state == "acknowledged" else None

    wait_until(acknowledged, "the acknowledgement")
    done = acknowledged()
    assert done is not None and (done.acknowledged_by, done.acknowledged_via) == (cast.hr, "wecom")
    channel_ref = next(
        d.message_ref
        for d in rows
        if d.alert_id == late.id and d.is_group and d.platform == "slack"
    )
    assert channel_ref is not None

    def slack_update() -> list[dict[str, Any]]:
        return [
            c.params
            for c in slack.calls_to("chat.update")
            if f"{c.params['channel']}:{c.params['ts']}" == channel_ref
        ]

    wait_until(slack_update, "the HR channel's card updated on Slack")
    assert f"({cast.hr})" in slack_update()[-1]["text"]
