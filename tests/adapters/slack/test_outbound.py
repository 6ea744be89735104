"""Alerts, replies, updates and failures against the loopback fake Slack Web API."""

from __future__ import annotations

import asyncio
import json

import pytest

from adapters.base import DeliveryError, ReplyTarget
from adapters.slack import SlackAdapter
from adapters.slack.blocks import card_blocks, escape
from handlers.types import Attachment, Button, Card, Field, Recipient, Reply
from tests.fakes.slack import FakeSlack
from tests.support.slack import BOT_TOKEN, http_adapter

pytestmark = pytest.mark.anyio

OVERDUE = Reply(
    text="Overdue: beijing 2024-05, principal 10000.00, late fee 25.00",
    card=Card(
        title="Overdue: beijing 2024-05",
        fields=(
            Field(label="Principal", value="10000.00 CNY"),
            Field(label="Late fee", value="25.00 CNY"),
            Field(label="Due date", value="2024-05-15"),
            Field(label="Suspension date", value="2024-07-01"),
        ),
        buttons=(
            Button(action="ack", label="Acknowledge", value="12", style="primary"),
            Button(action="snooze", label="Snooze 4h", value="12:4h"),
        ),
    ),
)
HR = Recipient(platform="slack", address="C0HR00001", is_group=True)
EMPLOYEE = Recipient(platform="slack", address="U2147483697", employee_id="E001")
CHANNEL = ReplyTarget(platform="slack", conversation_id="C1", user_id="U1", is_direct=False)


async def test_alert_card_is_block_kit_with_figures_and_buttons(fake_slack: FakeSlack) -> None:
    ref = await http_adapter(fake_slack).send(HR, OVERDUE, key="alert-12:hr")
    [call] = fake_slack.calls_to("chat.postMessage")
    assert call.token == BOT_TOKEN
    assert ref == f"C0HR00001:{call.answer['ts']}"
    assert call.params["channel"] == "C0HR00001"
    assert call.params["text"] == OVERDUE.text
    assert call.params["metadata"] == {
        "event_type": "coverwatch_delivery",
        "event_payload": {"key": "alert-12:hr"},
    }
    assert call.params["blocks"] == [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": "Overdue: beijing 2024-05", "emoji": True},
        },
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": "*Principal*\n10000.00 CNY"},
                {"type": "mrkdwn", "text": "*Late fee*\n25.00 CNY"},
                {"type": "mrkdwn", "text": "*Due date*\n2024-05-15"},
                {"type": "mrkdwn", "text": "*Suspension date*\n2024-07-01"},
            ],
        },
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "ack",
                    "text": {"type": "plain_text", "text": "Acknowledge", "emoji": True},
                    "value": "12",
                    "style": "primary",
                },
                {
                    "type": "button",
                    "action_id": "snooze",
                    "text": {"type": "plain_text", "text": "Snooze 4h", "emoji": True},
                    "value": "12:4h",
                },
            ],
        },
    ]


async def test_more_than_ten_fields_split_into_sections_and_text_is_escaped(
    fake_slack: FakeSlack,
) -> None:
    fields = tuple(Field(label=f"L{i}", value="<b> & c") for i in range(12))
    reply = Reply(text="a < b & c", card=Card(title="Many", fields=fields))
    await http_adapter(fake_slack).reply(CHANNEL, reply)
    params = fake_slack.calls_to("chat.postMessage")[0].params
    assert params["text"] == "a &lt; b &amp; c"
    sections = [block for block in params["blocks"] if block["type"] == "section"]
    assert [len(section["fields"]) for section in sections] == [10, 2]
    assert sections[0]["fields"][0]["text"] == "*L0*\n&lt;b&gt; &amp; c"
    assert all(block["type"] != "actions" for block in params["blocks"])


async def test_dm_to_a_person_opens_the_conversation_first(fake_slack: FakeSlack) -> None:
    adapter = http_adapter(fake_slack)
    ref = await adapter.send(EMPLOYEE, Reply(text="Your cover is at risk"), key="k1")
    await adapter.send(EMPLOYEE, Reply(text="Reminder"), key="k2")
    opened = fake_slack.calls_to("conversations.open")
    assert [call.params["users"] for call in opened] == ["U2147483697"]  # cached after the first
    posts = fake_slack.calls_to("chat.postMessage")
    assert [call.params["channel"] for call in posts] == ["D2147483697", "D2147483697"]
    assert "blocks" not in posts[0].params  # plain text without a card
    assert ref.startswith("D2147483697:")


async def test_configured_hr_channel_is_posted_to_directly(fake_slack: FakeSlack) -> None:
    recipient = Recipient(platform="slack", address="C0HR00001")  # not flagged as a group
    await http_adapter(fake_slack).send(recipient, Reply(text="digest"), key="k")
    assert fake_slack.calls_to("conversations.open") == []


async def test_update_rewrites_the_message_in_place_without_buttons(
    fake_slack: FakeSlack,
) -> None:
    adapter = http_adapter(fake_slack)
    ref = await adapter.send(HR, OVERDUE, key="alert-12:hr")
    done = Reply(
        text="Acknowledged by Li Lei at 2024-06-02 10:15",
        card=Card(title="Acknowledged: beijing 2024-05", fields=OVERDUE.card.fields[:2])
        if OVERDUE.card
        else None,
    )
    await adapter.update(ref, done)
    [call] = fake_slack.calls_to("chat.update")
    channel, ts = ref.split(":")
    assert (call.params["channel"], call.params["ts"]) == (channel, ts)
    assert call.params["text"] == done.text
    assert [block["type"] for block in call.params["blocks"]] == ["header", "section"]

    await adapter.update(ref, Reply(text="Resolved"))
    assert fake_slack.calls_to("chat.update")[1].params["blocks"] == []


async def test_ephemeral_reply_in_a_channel_without_response_url(fake_slack: FakeSlack) -> None:
    await http_adapter(fake_slack).reply(CHANNEL, Reply(text="only you", ephemeral=True))
    [call] = fake_slack.calls_to("chat.postEphemeral")
    assert (call.params["channel"], call.params["user"]) == ("C1", "U1")
    assert fake_slack.calls_to("chat.postMessage") == []


async def test_attachments_are_uploaded_to_the_conversation(fake_slack: FakeSlack) -> None:
    chart = Attachment(filename="kpi-2024-05.png", content=b"\x89PNG fake chart")
    await http_adapter(fake_slack).reply(CHANNEL, Reply(text="KPI", attachments=(chart,)))
    [url_call] = fake_slack.calls_to("files.getUploadURLExternal")
    assert url_call.params["filename"] == "kpi-2024-05.png"
    [complete] = fake_slack.calls_to("files.completeUploadExternal")
    assert complete.params["channel_id"] == "C1"
    assert json.loads(complete.params["files"])[0]["title"] == "kpi-2024-05.png"
    assert list(fake_slack.uploads.values()) == [b"\x89PNG fake chart"]


async def test_private_chart_asked_in_a_channel_goes_to_the_askers_dm(
    fake_slack: FakeSlack,
) -> None:
    chart = Attachment(filename="mine.png", content=b"png")
    reply = Reply(text="Your KPI", ephemeral=True, attachments=(chart,))
    await http_adapter(fake_slack).reply(CHANNEL, reply)
    assert fake_slack.calls_to("files.completeUploadExternal")[0].params["channel_id"] == "D1"


async def test_429_becomes_retry_after(fake_slack: FakeSlack) -> None:
    fake_slack.fail_next("chat.postMessage", status=429, error="ratelimited", retry_after=7)
    with pytest.raises(DeliveryError) as caught:
        await http_adapter(fake_slack).send(HR, OVERDUE, key="k")
    assert caught.value.retry_after == 7.0
    assert not caught.value.permanent


async def test_channel_rate_limit_of_the_fake_is_honoured_as_retry_after(
    fake_slack: FakeSlack,
) -> None:
    fake_slack.enforce_channel_rate = True
    adapter = http_adapter(fake_slack)
    await adapter.send(HR, Reply(text="first"), key="k1")
    with pytest.raises(DeliveryError) as caught:
        await adapter.send(HR, Reply(text="second, too soon"), key="k2")
    assert caught.value.retry_after == 1.0


@pytest.mark.parametrize(
    ("status", "error", "permanent"),
    [
        (200, "channel_not_found", True),
        (200, "not_in_channel", True),
        (200, "invalid_auth", True),
        (200, "internal_error", False),
        (503, "service_unavailable", False),
    ],
)
async def test_api_errors_map_to_delivery_errors(
    fake_slack: FakeSlack, status: int, error: str, permanent: bool
) -> None:
    fake_slack.fail_next("chat.postMessage", status=status, error=error)
    with pytest.raises(DeliveryError) as caught:
        await http_adapter(fake_slack).send(HR, Reply(text="x"), key="k")
    assert caught.value.permanent is permanent
    assert caught.value.retry_after is None
    assert error in str(caught.value)


async def test_wrong_bot_token_is_permanent(fake_slack: FakeSlack) -> None:
    adapter = SlackAdapter(
        bot_token="xoxb-revoked",
        signing_secret="secret",
        api_base_url=fake_slack.api_url,
    )
    with pytest.raises(DeliveryError, match="invalid_auth") as caught:
        await adapter.update("C1:1.0", Reply(text="x"))
    assert caught.value.permanent


async def test_unreachable_slack_is_retryable() -> None:
    adapter = SlackAdapter(
        bot_token=BOT_TOKEN, signing_secret="secret", api_base_url="http://127.0.0.1:9/api/"
    )
    with pytest.raises(DeliveryError) as caught:
        await adapter.send(HR, Reply(text="x"), key="k")
    assert not caught.value.permanent


async def test_a_response_url_answer_from_a_thread_is_the_one_reply_sends(
    fake_slack: FakeSlack,
) -> None:
    """`reply_blocking` (a handler thread's answer) posts what `reply` posts."""
    adapter = http_adapter(fake_slack)
    for name in ("loop", "thread"):
        target = ReplyTarget(
            platform="slack",
            conversation_id="C1",
            user_id="U1",
            is_direct=False,
            extra={"response_url": fake_slack.response_url(name)},
        )
        reply = Reply(text="您好 <b> & co", card=OVERDUE.card, ephemeral=True)
        if name == "loop":
            await adapter.reply(target, reply)
        else:
            assert await asyncio.to_thread(adapter.reply_blocking, target, reply)
    [(_, on_loop), (_, on_thread)] = fake_slack.responses
    assert on_thread == on_loop
    assert on_thread["response_type"] == "ephemeral"
    assert on_thread["text"] == "您好 &lt;b&gt; &amp; co"


async def test_what_needs_the_web_api_is_left_to_reply(fake_slack: FakeSlack) -> None:
    """No response_url (an @mention), or a chart to upload: `reply_blocking` sends nothing."""
    adapter = http_adapter(fake_slack)
    chart = Attachment(filename="kpi.png", content=b"png")
    with_url = ReplyTarget(
        platform="slack",
        conversation_id="C1",
        user_id="U1",
        is_direct=False,
        extra={"response_url": fake_slack.response_url("chart")},
    )
    assert not adapter.reply_blocking(CHANNEL, Reply(text="hi"))
    assert not adapter.reply_blocking(with_url, Reply(text="KPI", attachments=(chart,)))
    assert fake_slack.responses == [] and fake_slack.calls == []


@pytest.mark.parametrize("from_thread", [False, True])
@pytest.mark.parametrize(
    ("status", "retry_after", "permanent"),
    [(404, None, True), (429, 3.0, False), (500, None, False)],
)
async def test_response_url_failures(
    fake_slack: FakeSlack,
    status: int,
    retry_after: float | None,
    permanent: bool,
    from_thread: bool,
) -> None:
    fake_slack.fail_next("response_url", status=status, error="expired_url", retry_after=3)
    target = ReplyTarget(
        platform="slack",
        conversation_id="C1",
        user_id="U1",
        is_direct=False,
        extra={"response_url": fake_slack.response_url("old")},
    )
    adapter = http_adapter(fake_slack)
    with pytest.raises(DeliveryError) as caught:
        if from_thread:
            await asyncio.to_thread(adapter.reply_blocking, target, Reply(text="late"))
        else:
            await adapter.reply(target, Reply(text="late"))
    assert caught.value.permanent is permanent
    assert caught.value.retry_after == retry_after


def test_rate_limits_are_declared_per_channel() -> None:
    [limit] = SlackAdapter.rate_limits
    assert (limit.scope, limit.count, limit.seconds) == ("recipient", 1, 1.0)


def test_user_text_in_mrkdwn_cannot_become_a_link_or_a_mention() -> None:
    """Issue 15 item 7 on Slack: its links are `<url|text>` and mentions `<!channel>`; the
    escaped `<`, `>`, `&` leave a name shown as written (Markdown's `[x](y)` is no link)."""
    lure = "<http://evil.example/login|点击这里确认参保> <!channel>"
    card = Card(title="未参保", fields=(Field(label="姓名", value=lure),))
    [_, section] = card_blocks(card)
    text = section["fields"][0]["text"]
    assert "<" not in text and ">" not in text
    assert "&lt;http://evil.example/login|点击这里确认参保&gt; &lt;!channel&gt;" in text
    assert escape(lure) == "&lt;http://evil.example/login|点击这里确认参保&gt; &lt;!channel&gt;"
