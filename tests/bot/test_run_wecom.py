"""WeCom end to end: a real `coverwatch run` process, its /wecom/callback route, the fake WeCom API.

Every reply and alert goes out through the loopback fake, which drops what exceeds 30 messages a
minute to one member, as WeCom does (doc 90454). Helpers: `tests/bot/wecom_run_support.py`.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import xmltodict  # type: ignore[import-untyped]
from sqlmodel import select
from wechatpy.enterprise.crypto import WeChatCrypto  # type: ignore[import-untyped]

from bot.app import fixed_clock
from storage.db import session_scope
from storage.models import AlertEvent, Delivery
from storage.outbox import AlertPayload, NewDelivery, enqueue
from tests.fakes.wecom import FakeWeCom
from tests.support.run_wecom import (
    EMPLOYEE,
    HR,
    MANAGER,
    OUTSIDER,
    TODAY,
    ZONE,
    Bot,
    Company,
    ShiftedClock,
    alert_of,
    alert_or_none,
    button_keys,
    click_xml,
    cover_answer,
    deliveries,
    scan_before_start,
    seed_company,
    sent_to,
    text_xml,
    wait_until,
)
from tests.support.wecom import AES_KEY, AGENT_ID, CORP_ID, HR_CHAT, SECRET, TOKEN

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Company:
    return seed_company(tmp_path_factory.mktemp("wecom-company"))


@pytest.fixture
def db_url(company: Company, tmp_path: Path) -> str:
    shutil.copy(company.path, tmp_path / "coverwatch.db")
    return f"sqlite:///{tmp_path / 'coverwatch.db'}"


@pytest.fixture
def wecom(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeWeCom]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    fake = FakeWeCom(
        corp_id=CORP_ID,
        secret=SECRET,
        agent_id=AGENT_ID,
        users=frozenset({HR, MANAGER, OUTSIDER, EMPLOYEE}),
        chats=frozenset({HR_CHAT}),
        clock=ShiftedClock(),
    )
    with fake.running():
        yield fake


@pytest.fixture
def bot(db_url: str, wecom: FakeWeCom, tmp_path: Path, company: Company) -> Iterator[Bot]:
    running = Bot(db_url, wecom, tmp_path, accounts=company.accounts)
    try:
        yield running
    finally:
        running.stop()


def test_url_verification_answers_the_decrypted_echostr(bot: Bot) -> None:
    bot.start()
    timestamp, nonce = str(int(time.time())), "1372623149"
    envelope = WeChatCrypto(TOKEN, AES_KEY, CORP_ID).encrypt_message("5927384021", nonce, timestamp)
    fields = xmltodict.parse(envelope)["xml"]
    query = {"msg_signature": fields["MsgSignature"], "timestamp": timestamp, "nonce": nonce}
    query["echostr"] = fields["Encrypt"]
    answer = httpx.get(f"{bot.url}/wecom/callback", params=query, timeout=10)
    assert (answer.status_code, answer.text) == (200, "5927384021")
    forged = httpx.get(f"{bot.url}/wecom/callback", params={**query, "nonce": "1"}, timeout=10)
    assert forged.status_code == 403


def test_employee_asks_cover_status_and_is_answered_through_message_send(
    bot: Bot, wecom: FakeWeCom, company: Company
) -> None:
    bot.start()
    wecom.send_delay = 2.0  # a slow WeCom: the callback must not wait for the reply
    started = time.monotonic()
    answer = bot.post(text_xml(EMPLOYEE, "我的医保", "7248349923859371001"))
    assert (answer.status_code, answer.content) == (200, b"")
    assert time.monotonic() - started < 1.5, "answered well within WeCom's 5 s"
    replies = wait_until(lambda: sent_to(wecom, EMPLOYEE), what="the reply")
    wecom.send_delay = 0.0
    expected = cover_answer(bot, EMPLOYEE)
    assert [(r["msgtype"], r["markdown"]) for r in replies] == [
        ("markdown", message["markdown"]) for message in expected
    ]
    content = replies[0]["markdown"]["content"]
    assert f"已缴至：{company.unpaid.prev()}" in content
    assert f"欠缴月份：{company.unpaid}" in content
    assert replies[0]["agentid"] == AGENT_ID


def test_hr_gets_the_overdue_alert_as_a_button_card_and_in_the_hr_chat(
    bot: Bot, wecom: FakeWeCom, company: Company
) -> None:
    bot.start()
    overdue = wait_until(lambda: alert_or_none(bot, "overdue"), what="the start-up scan")
    assert (overdue.account_id, overdue.period) == ("shanghai", str(company.unpaid))

    def sent() -> list[Delivery]:
        mine = [d for d in deliveries(bot) if d.alert_id == overdue.id]
        return mine if mine and all(d.state == "sent" for d in mine) else []

    assert {(d.address, d.is_group) for d in wait_until(sent, what="the deliveries")} == {
        (HR, False),
        (HR_CHAT, True),
    }
    [card] = [
        b["template_card"]
        for b in sent_to(wecom, HR)
        if button_keys(b)[:1] == [f"ack:{overdue.id}"]
    ]
    assert card["card_type"] == "button_interaction"
    assert button_keys({"template_card": card}) == [f"ack:{overdue.id}", f"snooze:{overdue.id}:4h"]
    rows = {row["keyname"]: row["value"] for row in card["horizontal_content_list"]}
    assert f"上海 {company.unpaid}" in rows.values()  # the account as people name it
    [chat] = [
        c.body
        for c in wecom.calls_to("appchat/send")
        if c.body["chatid"] == HR_CHAT and f"上海 {company.unpaid}" in c.body["markdown"]["content"]
    ]
    assert chat["msgtype"] == "markdown"
    assert card["main_title"]["title"] in chat["markdown"]["content"]


def test_a_manager_in_scope_acknowledges_from_the_card_and_the_cards_show_who(
    bot: Bot, wecom: FakeWeCom, company: Company
) -> None:
    bot.start()
    hire = wait_until(
        lambda: alert_or_none(bot, "enrollment_deadline", employee_id=company.hire),
        what="the start-up scan",
    )
    ack = f"ack:{hire.id}"
    [card] = wait_until(
        lambda: [
            b["template_card"] for b in sent_to(wecom, MANAGER) if button_keys(b)[:1] == [ack]
        ],
        what="the manager's card",
    )
    created = int(time.time())
    # The Hong Kong manager is out of scope: refused, nothing changes, no card is touched.
    outsider = click_xml(OUTSIDER, ack, card["task_id"], wecom.click(card["task_id"]), created)
    assert bot.post(outsider).status_code == 200
    [refusal] = wait_until(lambda: sent_to(wecom, OUTSIDER), what="the refusal")
    assert refusal["msgtype"] == "text"
    assert alert_of(bot, "enrollment_deadline", employee_id=company.hire).state == "open"
    assert not wecom.calls_to("message/update_template_card")

    response_code = wecom.click(card["task_id"])
    started = time.monotonic()
    answer = bot.post(click_xml(MANAGER, ack, card["task_id"], response_code, created + 1))
    assert (answer.status_code, answer.content) == (200, b"")
    assert time.monotonic() - started < 1.5
    done = wait_until(
        lambda: (
            (a := alert_of(bot, "enrollment_deadline", employee_id=company.hire)).state
            == "acknowledged"
            and a
        ),
        what="the acknowledgement",
    )
    manager_id = company.people[MANAGER]
    assert (done.acknowledged_by, done.acknowledged_via) == (manager_id, "wecom")
    with bot.session() as session:
        audit = session.exec(select(AlertEvent).where(AlertEvent.alert_id == hire.id)).all()
    assert [(e.actor, e.platform) for e in audit if e.event == "acknowledged"] == [
        (manager_id, "wecom")
    ]
    cards_sent = [d for d in deliveries(bot) if d.alert_id == hire.id and not d.is_group]
    assert {d.address for d in cards_sent} == {HR, MANAGER}
    updates = wait_until(
        lambda: (found := wecom.calls_to("message/update_template_card"))[1:] and found,
        what="both cards updated",
    )
    by_user = {call.body["userids"][0]: call.body for call in updates}
    assert by_user[MANAGER]["response_code"] == response_code, "the click's own ResponseCode"
    hr_ref = next(d.message_ref for d in cards_sent if d.address == HR)
    assert hr_ref == f"card:{HR}:{by_user[HR]['response_code']}", "the code the send returned"
    for body in by_user.values():
        assert f"({manager_id})" in body["button"]["replace_name"]
    assert len(updates) == 2

    # A click on the settled card, out of scope, changes nothing either.
    late = click_xml(OUTSIDER, ack, card["task_id"], wecom.click(card["task_id"]), created + 2)
    assert bot.post(late).status_code == 200
    wait_until(lambda: sent_to(wecom, OUTSIDER)[1:], what="the second refusal")
    assert (
        alert_of(bot, "enrollment_deadline", employee_id=company.hire).acknowledged_by == manager_id
    )
    assert len(wecom.calls_to("message/update_template_card")) == 2
    assert not [
        c for c in wecom.calls if c.api.endswith("update_template_card") and c.outcome != "ok"
    ]


def test_over_30_warnings_to_one_member_wait_a_minute_and_none_is_dropped(
    bot: Bot, wecom: FakeWeCom, company: Company
) -> None:
    overdue = scan_before_start(bot)
    assert overdue.id is not None
    payload = AlertPayload(alert_id=overdue.id, stage="burst")
    burst = [
        NewDelivery(
            idempotency_key=f"burst:{n}",
            alert_id=overdue.id,
            platform="wecom",
            address=HR,
            employee_id=company.people[HR],
            payload=payload,
            urgent=True,
            not_before=fixed_clock(TODAY, ZONE)(),
        )
        for n in range(40)
    ]
    with session_scope(bot.engine) as session:
        enqueue(session, burst, now=fixed_clock(TODAY, ZONE)())
    bot.start()

    def first_minute() -> tuple[list[Delivery], list[Delivery]] | None:
        mine = deliveries(bot, HR)
        sent = [d for d in mine if d.state == "sent"]
        held = [d for d in mine if d.state == "pending" and d.last_error]
        return (sent, held) if held and len(sent) + len(held) == len(mine) else None

    sent, held = wait_until(first_minute, what="every warning sent or held back")
    assert len(sent) == 30
    assert len(sent_to(wecom, HR)) == 30
    assert not sent_to(wecom, HR, "dropped")
    assert len(held) > 10
    first = min(d.sent_at for d in sent if d.sent_at is not None)
    # The minute runs from the first slot taken, which is before its send is recorded (sent_at
    # is stamped when WeCom has answered): microseconds to milliseconds earlier, never a second.
    assert min(d.next_attempt_at for d in held) >= first + timedelta(seconds=59)
    assert {(d.last_error, d.attempts) for d in held} == {("rate limited locally", 0)}

    # The next day (WeCom's clock too): everything held back goes out, and nothing is lost.
    bot.stop()
    assert isinstance(wecom.clock, ShiftedClock)
    wecom.clock.offset += 86_400
    bot.start(TODAY + timedelta(days=1))
    # The day's own alerts to HR (now its account owner, issue 14) may fill this minute too:
    # wait until every burst warning is out and the rest is either sent or held back.
    keys = {d.idempotency_key for d in burst}

    def settled() -> list[Delivery]:
        mine = deliveries(bot, HR)
        out = {d.idempotency_key for d in mine if d.state == "sent"}
        held = all(d.state == "sent" or (d.state == "pending" and d.last_error) for d in mine)
        return mine if keys <= out and held else []

    mine = wait_until(settled, what="the held warnings")
    assert len(sent_to(wecom, HR)) == len([d for d in mine if d.state == "sent"])
    assert {d.last_error for d in mine if d.state != "sent"} <= {"rate limited locally"}
    assert not sent_to(wecom, HR, "dropped")


def test_45009_pushes_the_warning_back_and_it_is_delivered_later(
    bot: Bot, wecom: FakeWeCom
) -> None:
    wecom.throttle_next = 1
    bot.start()

    def attempted() -> list[Delivery]:
        mine = deliveries(bot)
        return mine if mine and all(d.last_error for d in mine) else []

    mine = wait_until(attempted, what="every warning tried once")
    [throttled] = [d for d in mine if d.attempts == 1]
    assert throttled.last_error == "WeCom errcode 45009"
    assert throttled.next_attempt_at >= throttled.created_at + timedelta(seconds=60)
    assert {d.last_error for d in mine if d is not throttled} == {"rate limited locally"}
    assert [c.outcome for c in wecom.calls if c.api != "gettoken"] == ["errcode 45009"]

    bot.stop()
    assert isinstance(wecom.clock, ShiftedClock)
    wecom.clock.offset += 86_400
    bot.start(TODAY + timedelta(days=1))
    delivered = wait_until(
        lambda: (rows := deliveries(bot)) and all(d.state == "sent" for d in rows) and rows,
        what="the warnings after the pause",
    )
    assert throttled.id in {d.id for d in delivered}
    assert len(wecom.calls_to("message/send")) == len([d for d in delivered if not d.is_group])
    assert not wecom.calls_to("message/send", "dropped")
