"""Outbound DingTalk calls against the loopback fake: robot API, token cache, cards, errors."""

from __future__ import annotations

import json
import logging
import socket

import pytest

from adapters.base import DeliveryError, MessageNotEditable, ReplyTarget
from adapters.dingtalk import BatchDeliveryError, DingTalkAdapter
from handlers.types import Attachment, Button, Card, Field, Recipient, Reply
from tests.fakes.dingtalk import FakeDingTalk
from tests.support.dingtalk import ROBOT_CODE, make_adapter, run

BATCH = "/v1.0/robot/oToMessages/batchSend"
GROUP = "/v1.0/robot/groupMessages/send"
TOKEN = "/v1.0/oauth2/accessToken"
ALERT = Reply(
    text="北京账户 2024-05 社保已逾期。",
    card=Card(
        title="社保逾期",
        fields=(Field(label="应缴", value="12345.60"),),
        buttons=(
            Button(action="ack", label="确认", value="12"),
            Button(action="snooze", label="暂缓", value="12:4h"),
        ),
    ),
)
PERSON = Recipient(platform="dingtalk", address="0123456789003")


def test_send_many_batches_45_users_into_3_calls_with_one_valid_token(
    fake_dingtalk: FakeDingTalk,
) -> None:
    fake = fake_dingtalk
    adapter = make_adapter(fake)
    users = [f"staff{n:03d}" for n in range(45)]

    async def scenario() -> None:
        delivered = await adapter.send_many(users, Reply(text="北京账户社保明天到期"), key="k1")
        assert sorted(delivered) == users
        await adapter.stop()

    run(scenario)
    batches = fake.token_calls(BATCH)
    assert [len(c.body["userIds"]) for c in batches] == [20, 20, 5]
    assert [u for c in batches for u in c.body["userIds"]] == users
    assert {c.token for c in batches} == {batches[0].token} and batches[0].token
    assert all(c.body["robotCode"] == ROBOT_CODE for c in batches)
    assert json.loads(batches[0].body["msgParam"]) == {"content": "北京账户社保明天到期"}
    assert len(fake.token_calls(TOKEN)) == 1


def test_token_is_refreshed_once_after_an_auth_error(fake_dingtalk: FakeDingTalk) -> None:
    fake = fake_dingtalk
    adapter = make_adapter(fake)

    async def scenario() -> None:
        await adapter.send(PERSON, Reply(text="one"), key="k1")
        fake.revoke_tokens()
        await adapter.send(PERSON, Reply(text="two"), key="k2")
        await adapter.stop()

    run(scenario)
    assert len(fake.token_calls(TOKEN)) == 2
    first, refused, retried = fake.token_calls(BATCH)
    assert refused.token == first.token != retried.token


def test_token_is_reused_until_shortly_before_expiry(fake_dingtalk: FakeDingTalk) -> None:
    fake = fake_dingtalk
    now = [1_000_000.0]
    adapter = make_adapter(fake, clock=lambda: now[0])

    async def scenario() -> None:
        await adapter.send(PERSON, Reply(text="one"), key="k1")
        now[0] += 7200 - 301
        await adapter.send(PERSON, Reply(text="two"), key="k2")
        assert len(fake.token_calls(TOKEN)) == 1
        now[0] += 2
        await adapter.send(PERSON, Reply(text="three"), key="k3")
        await adapter.stop()

    run(scenario)
    assert len(fake.token_calls(TOKEN)) == 2


def test_wrong_app_secret_is_a_permanent_error(fake_dingtalk: FakeDingTalk) -> None:
    adapter = make_adapter(fake_dingtalk, client_secret="wrong")

    async def scenario() -> None:
        with pytest.raises(DeliveryError) as caught:
            await adapter.send(PERSON, Reply(text="x"), key="k1")
        assert caught.value.permanent
        await adapter.stop()

    run(scenario)


def test_throttled_90002_raises_retry_after_growing_exponentially(
    fake_dingtalk: FakeDingTalk,
) -> None:
    fake = fake_dingtalk
    fake.throttle_next = 2
    adapter = make_adapter(fake)

    async def scenario() -> None:
        delays = []
        for key in ("k1", "k2"):
            with pytest.raises(DeliveryError) as caught:
                await adapter.send(PERSON, Reply(text="x"), key=key)
            assert not caught.value.permanent
            delays.append(caught.value.retry_after)
        assert delays == [2.0, 4.0]
        await adapter.send(PERSON, Reply(text="x"), key="k3")
        await adapter.stop()

    run(scenario)


def test_send_many_throttled_midway_reports_who_already_got_it(
    fake_dingtalk: FakeDingTalk,
) -> None:
    fake = fake_dingtalk
    adapter = make_adapter(fake)
    users = [f"staff{n:03d}" for n in range(30)]

    async def scenario() -> None:
        await adapter.send(PERSON, Reply(text="first"), key="k0")
        fake.calls_per_minute = 2  # the second batch below is the third call this minute
        with pytest.raises(BatchDeliveryError) as caught:
            await adapter.send_many(users, Reply(text="x"), key="k1")
        assert sorted(caught.value.delivered) == users[:20]
        assert caught.value.remaining == tuple(users[20:])
        assert caught.value.retry_after is not None
        await adapter.stop()

    run(scenario)


def test_unreachable_api_is_retryable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    adapter = DingTalkAdapter(
        client_id="c", client_secret="s", robot_code="r", api_base_url=f"http://127.0.0.1:{port}"
    )

    async def scenario() -> None:
        with pytest.raises(DeliveryError) as caught:
            await adapter.send(PERSON, Reply(text="x"), key="k1")
        assert not caught.value.permanent
        await adapter.stop()

    run(scenario)


def test_card_api_error_falls_back_to_markdown_with_the_ack_command(
    fake_dingtalk: FakeDingTalk,
) -> None:
    fake = fake_dingtalk
    fake.card_create_fails = True
    adapter = make_adapter(fake)

    async def scenario() -> None:
        ref = await adapter.send(PERSON, ALERT, key="alert:12")
        assert not ref.startswith("cw_")
        with pytest.raises(MessageNotEditable):  # plain messages stay as sent
            await adapter.update(ref, Reply(text="acknowledged"))
        await adapter.stop()

    run(scenario)
    [sent] = fake.token_calls(BATCH)
    assert sent.body["msgKey"] == "sampleMarkdown"
    text = json.loads(sent.body["msgParam"])["text"]
    assert "回复「确认 12」" in text and "回复「暂缓 12 4h」" in text
    assert not [c for c in fake.calls if c.method == "PUT"]


def test_alert_card_to_a_group_is_delivered_to_the_group_space(
    fake_dingtalk: FakeDingTalk,
) -> None:
    fake = fake_dingtalk
    adapter = make_adapter(fake)
    group = Recipient(platform="dingtalk", address="cidGroupHR0002Xk9pQ==", is_group=True)

    async def scenario() -> None:
        ref = await adapter.send(group, ALERT, key="alert:12:hr")
        assert ref.startswith("cw_")
        await adapter.stop()

    run(scenario)
    [deliver] = fake.token_calls("/v1.0/card/instances/deliver")
    assert deliver.body["openSpaceId"] == "dtv1.card//IM_GROUP.cidGroupHR0002Xk9pQ=="
    assert deliver.body["imGroupOpenDeliverModel"] == {"robotCode": ROBOT_CODE}


def test_group_message_without_card_template_uses_group_send(fake_dingtalk: FakeDingTalk) -> None:
    fake = fake_dingtalk
    adapter = make_adapter(fake, card_template_id=None)
    group = Recipient(platform="dingtalk", address="cidGroupHR0002Xk9pQ==", is_group=True)

    async def scenario() -> None:
        await adapter.send(group, ALERT, key="alert:12:hr")
        await adapter.stop()

    run(scenario)
    [sent] = fake.token_calls(GROUP)
    assert sent.body["openConversationId"] == "cidGroupHR0002Xk9pQ=="
    assert sent.body["msgKey"] == "sampleMarkdown"
    assert fake.cards == {}


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        ({"session_webhook": "WEBHOOK", "session_webhook_expires_ms": "1000"}, "expired"),
        (
            {"session_webhook": "https://evil.example/hook", "session_webhook_expires_ms": "FAR"},
            "host",
        ),
        ({}, "missing"),
    ],
)
def test_reply_without_a_usable_session_webhook_uses_the_robot_api(
    fake_dingtalk: FakeDingTalk, extra: dict[str, str], why: str
) -> None:
    fake = fake_dingtalk
    adapter = make_adapter(fake)
    far = str(10**15)
    extra = {
        k: v.replace("WEBHOOK", fake.session_webhook()).replace("FAR", far)
        for k, v in extra.items()
    }
    target = ReplyTarget(
        platform="dingtalk",
        conversation_id="cidX",
        user_id="0123456789001",
        is_direct=True,
        extra=extra,
    )

    async def scenario() -> None:
        await adapter.reply(target, Reply(text="医保状态：正常"))
        await adapter.stop()

    run(scenario)
    assert fake.webhook_posts == [], why
    [sent] = fake.token_calls(BATCH)
    assert sent.body["userIds"] == ["0123456789001"]


def test_attachment_is_uploaded_then_sent_as_an_image(
    fake_dingtalk: FakeDingTalk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="httpx")
    fake = fake_dingtalk
    adapter = make_adapter(fake)
    chart = Attachment(filename="kpi.png", content=b"\x89PNG\r\n\x1a\nfake")

    async def scenario() -> None:
        await adapter.send(PERSON, Reply(text="KPI 2024-05", attachments=(chart,)), key="kpi")
        await adapter.stop()

    run(scenario)
    [upload] = fake.token_calls("/media/upload")
    assert upload.token and b"kpi.png" in upload.body
    assert "/media/upload?" in caplog.text  # query redacted (adapter filter or bot.log_safety)
    assert upload.token not in caplog.text
    text, image = fake.token_calls(BATCH)
    assert text.body["msgKey"] == "sampleText"
    assert image.body["msgKey"] == "sampleImageMsg"
    assert json.loads(image.body["msgParam"]) == {"photoURL": "@lAmedia01"}


def test_a_personal_answer_asked_in_a_group_goes_to_the_asker_privately(
    fake_dingtalk: FakeDingTalk,
) -> None:
    """Issue 15 finding 4: `缴费明细` in a group went to the group. DingTalk has no ephemeral
    group message, so the answer goes 1:1 (batchSend) and the group only hears that it did."""
    fake = fake_dingtalk
    adapter = make_adapter(fake)
    target = ReplyTarget(
        platform="dingtalk",
        conversation_id="cidGroupTeam0001Xk9pQ==",
        user_id="0123456789001",
        is_direct=False,
    )
    personal = Reply(text="养老保险 个人 2907.84", ephemeral=True)

    async def scenario() -> None:
        await adapter.reply(target, personal)
        await adapter.reply(target, Reply(text="待缴 3 个账户"))  # not personal: in the group
        await adapter.stop()

    run(scenario)
    [private] = fake.token_calls(BATCH)
    assert private.body["userIds"] == ["0123456789001"]
    assert "2907.84" in private.body["msgParam"]
    notice, shared = fake.token_calls(GROUP)
    assert notice.body["openConversationId"] == "cidGroupTeam0001Xk9pQ=="
    assert "2907.84" not in notice.body["msgParam"]
    assert "已私信发送给你" in json.loads(notice.body["msgParam"])["content"]
    assert "待缴 3 个账户" in shared.body["msgParam"]
