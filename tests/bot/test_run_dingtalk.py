"""`coverwatch run` with DingTalk enabled, end to end against the loopback fake DingTalk.

A real process (config file, secret in the environment, `--today` for a reproducible demo
company) whose real `dingtalk-stream` client connects to the fake's gateway: employees ask in
single chats and groups, managers click card buttons, and the start-up scan's warnings reach
the robot API in batches through the outbox. Forgery, redelivery and refusal, shared by every
platform, are pinned once in tests/adapters/test_contract.py.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from adapters.dingtalk.inbound import BOT_TOPIC, CARD_TOPIC
from bot.demo import LATE_ACCOUNT
from core.locales import ZH_CN
from storage.db import session_scope
from storage.models import AlertEvent
from storage.outbox import decode_payload
from tests.fakes.dingtalk import FakeDingTalk
from tests.support.dingtalk import ROBOT_CODE, TEMPLATE_ID, payload
from tests.support.run_dingtalk import (
    HR_GROUP,
    IN_SCOPE_MANAGER,
    OUT_OF_SCOPE_MANAGER,
    Company,
    bot_message,
    ding,
    posts,
    running,
    wait_until,
)


@pytest.mark.slow
def test_chats_and_batched_warnings(fake_dingtalk: FakeDingTalk, tmp_path: Path) -> None:
    fake = fake_dingtalk
    company = Company(tmp_path)
    fake.throttle_next = 1  # the first robot call is answered 90002
    single = fake.frame(
        BOT_TOPIC, bot_message(fake, ding(company.at_risk), "我的医保", "single-1"), "frame-1"
    )
    group_data = payload(
        "bot_message_group",
        senderStaffId=ding("E0003"),
        conversationId=HR_GROUP,
        robotCode=ROBOT_CODE,
        sessionWebhook=f"{fake.base_url}/robot/sendBySession?session=group-1",
        sessionWebhookExpiredTime=int(time.time() * 1000) + 3_600_000,
    )
    with running(company, fake, tmp_path):
        assert {s["topic"] for s in fake.subscriptions} == {BOT_TOPIC, CARD_TOPIC}
        fake.send_frame(single)
        wait_until(lambda: bool(posts(fake, "single-1")), "the single-chat answer")
        expected = company.answer(ding(company.at_risk), "我的医保", direct=True)
        assert posts(fake, "single-1") == [expected]
        assert "欠费宽限期" in json.dumps(expected, ensure_ascii=False), "the real, at-risk status"

        fake.send_frame(fake.frame(BOT_TOPIC, group_data, "frame-group-1"))
        wait_until(lambda: bool(posts(fake, "group-1")), "the group answer")
        assert posts(fake, "group-1") == [company.answer(ding("E0003"), "欠费", direct=False)]

        alert = company.overdue_sent()
        assert alert.id is not None
        wait_until(
            lambda: bool(company.retried()) and all(r.state == "sent" for r in company.retried()),
            "the throttled warnings to be retried",
        )

    # Warnings: batchSend, ≤ 20 users per call, each delivery holding its own call's ref.
    rows = company.deliveries(alert.id)
    batches = {key: users for users, key in fake.batches}
    assert all(1 <= len(users) <= 20 for users in batches.values())
    assert all(row.address in batches[row.message_ref or ""] for row in rows)
    chinese = [row for row in rows if decode_payload(row.payload).locale == ZH_CN]
    assert len(chinese) > 20
    sizes = sorted(len(batches[key]) for key in {row.message_ref or "" for row in chinese})
    assert sizes == [len(chinese) - 20, 20]
    # The fake accepts only tokens it issued: every call but the throttled one got through.
    assert len(fake.batches) == len(fake.token_calls("/v1.0/robot/oToMessages/batchSend")) - 1
    # The throttled call (90002) was retried by the outbox after its backoff.
    [throttled] = fake.throttled
    assert throttled.path == "/v1.0/robot/oToMessages/batchSend"
    # It carried one of the start-up scan's alerts (the demo opens several), not
    # necessarily the overdue one; its users and the batches after it were retried once.
    retried = company.retried()
    assert set(throttled.body["userIds"]) <= {row.address for row in retried}
    assert all(row.attempts == 1 and row.state == "sent" for row in retried)


def _click(fake: FakeDingTalk, user: str, card: str, value: str, frame_id: str) -> None:
    content = {"cardPrivateData": {"actionIds": ["ack"], "params": {"value": value}}}
    data = payload(
        "card_callback",
        userId=user,
        outTrackId=card,
        content=json.dumps(content),
        spaceType="IM_GROUP",
        spaceId=HR_GROUP,
    )
    fake.send_frame(fake.frame(CARD_TOPIC, data, frame_id))


@pytest.mark.slow
def test_card_button_acknowledges_in_scope_only(
    fake_dingtalk: FakeDingTalk, tmp_path: Path
) -> None:
    fake = fake_dingtalk
    company = Company(tmp_path)
    cards = (
        f'card_template_id = "{TEMPLATE_ID}"\nhr_groups = ["{HR_GROUP}"]\n'
        # A manager acknowledges an account-wide alert only as one of its owners.
        f'[accounts.{LATE_ACCOUNT}]\nowners = ["{IN_SCOPE_MANAGER}"]\n'
    )

    def group_replies() -> list[Any]:
        return fake.token_calls("/v1.0/robot/groupMessages/send")

    def updated() -> set[str]:
        return {
            c.body["outTrackId"]
            for c in fake.token_calls("/v1.0/card/instances")
            if c.method == "PUT"
        }

    with running(company, fake, tmp_path, cards):
        alert = company.overdue_sent()
        assert alert.id is not None
        rows = company.deliveries(alert.id)
        refs = {row.message_ref or "" for row in rows}
        assert len(refs) == len(rows) and all(ref in fake.cards for ref in refs), "a card each"
        [group_card] = [row.message_ref or "" for row in rows if row.is_group]
        params = fake.cards[group_card]["cardData"]["cardParamMap"]
        assert params["actions_visible"] == "true"

        _click(fake, ding(OUT_OF_SCOPE_MANAGER), group_card, params["ack_value"], "click-1")
        wait_until(lambda: len(group_replies()) == 1, "the refusal")
        refusal = company.click_answer(ding(OUT_OF_SCOPE_MANAGER), params["ack_value"])
        # Meant for the clicker alone: DingTalk has no ephemeral group message, so it goes
        # 1:1 and the group only hears that it was sent privately (issue 15 item 4).
        [private] = [
            call
            for call in fake.token_calls("/v1.0/robot/oToMessages/batchSend")
            if call.body["userIds"] == [ding(OUT_OF_SCOPE_MANAGER)]
        ]
        assert json.loads(private.body["msgParam"]) == refusal
        [answer] = group_replies()
        assert answer.body["openConversationId"] == HR_GROUP
        assert json.loads(answer.body["msgParam"]) == {"content": "已私信发送给你。"}
        unchanged = company.overdue()
        assert unchanged is not None and unchanged.state == "open"
        assert unchanged.acknowledged_by is None
        assert not updated(), "a refused click changes no card"

        _click(fake, ding(IN_SCOPE_MANAGER), group_card, params["ack_value"], "click-2")
        wait_until(lambda: updated() == refs, "every card of the alert to be updated")
        assert len(group_replies()) == 2, "the manager is told it worked"

    acknowledged = company.overdue()
    assert acknowledged is not None and acknowledged.state == "acknowledged"
    assert (acknowledged.acknowledged_by, acknowledged.acknowledged_via) == (
        IN_SCOPE_MANAGER,
        "dingtalk",
    )
    with session_scope(company.app.engine) as session:
        events = session.exec(
            select(AlertEvent).where(
                AlertEvent.alert_id == alert.id, AlertEvent.event == "acknowledged"
            )
        ).all()
    assert [(e.actor, e.platform) for e in events] == [(IN_SCOPE_MANAGER, "dingtalk")]
    shown = fake.cards[group_card]["cardData"]["cardParamMap"]
    assert shown["actions_visible"] == "false"
    assert IN_SCOPE_MANAGER in shown["content"], "the card shows who acknowledged"
