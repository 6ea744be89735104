"""The real dingtalk-stream client against the loopback fake: inbound frames, acks, reconnects."""

from __future__ import annotations

import threading
import time

from adapters.dingtalk.inbound import BOT_TOPIC, CARD_TOPIC
from handlers.types import Action, Button, Card, Field, Message, Recipient, Reply
from tests.fakes.dingtalk import FakeDingTalk
from tests.support.dingtalk import Sink, connected, make_adapter, payload, poll, run


def _fresh_webhook(fake: FakeDingTalk) -> dict[str, object]:
    return {
        "sessionWebhook": fake.session_webhook(),
        "sessionWebhookExpiredTime": int(time.time() * 1000) + 3_600_000,
    }


def test_single_chat_message_reaches_sink_and_reply_uses_session_webhook(
    fake_dingtalk: FakeDingTalk,
) -> None:
    fake, sink = fake_dingtalk, Sink()
    adapter = make_adapter(fake)

    async def scenario() -> None:
        async with connected(fake, adapter, sink):
            assert {s["topic"] for s in fake.subscriptions} == {BOT_TOPIC, CARD_TOPIC}
            data = payload("bot_message_single", **_fresh_webhook(fake))
            fake.send_frame(fake.frame(BOT_TOPIC, data, "frame-single-1"))
            await poll(lambda: bool(sink.events) and bool(fake.acks_for("frame-single-1")))
            message, target = sink.events[0]
            assert message == Message(
                platform="dingtalk",
                user_id="0123456789001",
                conversation_id="cidq7G3xR2mSingleChat0001==",
                is_direct=True,
                text="我的医保",
                event_id="frame-single-1",
            )
            assert target.extra["session_webhook"] == data["sessionWebhook"]
            assert target.extra["session_webhook_expires_ms"] == str(
                data["sessionWebhookExpiredTime"]
            )
            await adapter.reply(target, Reply(text="医保状态：正常，已缴至 2024-05"))

    run(scenario)
    assert fake.webhook_posts == [
        {"msgtype": "text", "text": {"content": "医保状态：正常，已缴至 2024-05"}}
    ]
    assert fake.token_calls("/v1.0/robot/oToMessages/batchSend") == []
    assert fake.bad_acks == []


def test_group_mention_is_stripped_and_answered_in_markdown(fake_dingtalk: FakeDingTalk) -> None:
    fake, sink = fake_dingtalk, Sink()
    adapter = make_adapter(fake)
    answer = Reply(
        text="欠费账户：北京 1 个",
        card=Card(title="欠费", fields=(Field(label="北京", value="12345.60"),)),
    )

    async def scenario() -> None:
        async with connected(fake, adapter, sink):
            data = payload("bot_message_group", **_fresh_webhook(fake))
            fake.send_frame(fake.frame(BOT_TOPIC, data, "frame-group-1"))
            await poll(lambda: bool(sink.events))
            message, target = sink.events[0]
            assert isinstance(message, Message)
            assert (message.text, message.is_direct) == ("欠费", False)
            assert target.conversation_id == "cidGroupHR0002Xk9pQ=="
            await adapter.reply(target, answer)

    run(scenario)
    [post] = fake.webhook_posts
    assert post["msgtype"] == "markdown"
    assert post["markdown"]["title"] == "欠费"
    assert "**北京**: 12345.60" in post["markdown"]["text"]


def test_redelivered_frame_keeps_its_event_id_and_is_acked_each_time(
    fake_dingtalk: FakeDingTalk,
) -> None:
    fake, sink = fake_dingtalk, Sink()
    adapter = make_adapter(fake)

    async def scenario() -> None:
        async with connected(fake, adapter, sink):
            frame = fake.frame(BOT_TOPIC, payload("bot_message_single"), "frame-dup-1")
            fake.send_frame(frame)
            await poll(lambda: len(fake.acks_for("frame-dup-1")) == 1)
            fake.send_frame(frame)  # DingTalk redelivers when it thinks the ack was late
            await poll(lambda: len(sink.events) == 2 and len(fake.acks_for("frame-dup-1")) == 2)

    run(scenario)
    assert [event.event_id for event, _ in sink.events] == ["frame-dup-1", "frame-dup-1"]
    assert all(ack["code"] == 200 for ack in fake.acks_for("frame-dup-1"))


def test_frames_that_are_not_text_are_acked_and_dropped(fake_dingtalk: FakeDingTalk) -> None:
    fake, sink = fake_dingtalk, Sink()
    adapter = make_adapter(fake)
    picture = payload("bot_message_single", msgtype="picture", content={"downloadCode": "x"})
    picture.pop("text")

    async def scenario() -> None:
        async with connected(fake, adapter, sink):
            fake.send_frame(fake.frame(BOT_TOPIC, picture, "frame-picture-1"))
            fake.send_frame(
                fake.frame(CARD_TOPIC, {"userId": "u1", "content": "{}"}, "frame-card-0")
            )
            await poll(lambda: bool(fake.acks_for("frame-picture-1")))
            await poll(lambda: bool(fake.acks_for("frame-card-0")))

    run(scenario)
    assert sink.events == []
    assert fake.bad_acks == []


def test_card_button_becomes_an_action_and_update_rewrites_the_card(
    fake_dingtalk: FakeDingTalk,
) -> None:
    fake, sink = fake_dingtalk, Sink()
    adapter = make_adapter(fake)
    alert = Reply(
        text="北京账户 2024-05 社保已逾期 3 天。回复「确认 12」确认。",
        card=Card(
            title="社保逾期",
            fields=(Field(label="应缴", value="12345.60"),),
            buttons=(
                Button(action="ack", label="确认", value="12"),
                Button(action="snooze", label="暂缓 4 小时", value="12:4h"),
            ),
        ),
    )
    done = Reply(
        text="已由 王经理 确认",
        card=Card(title="社保逾期（已确认）", fields=(Field(label="确认人", value="王经理"),)),
    )

    async def scenario() -> None:
        async with connected(fake, adapter, sink):
            ref = await adapter.send(
                Recipient(platform="dingtalk", address="0123456789003"),
                alert,
                key="alert:12:dingtalk:0123456789003",
            )
            params = fake.cards[ref]["cardData"]["cardParamMap"]
            assert (params["ack_value"], params["snooze_value"]) == ("12", "12:4h")
            click = payload("card_callback", outTrackId=ref)
            fake.send_frame(fake.frame(CARD_TOPIC, click, "frame-card-1"))
            await poll(lambda: bool(sink.events) and bool(fake.acks_for("frame-card-1")))
            action, _ = sink.events[0]
            assert action == Action(
                platform="dingtalk",
                user_id="0123456789003",
                conversation_id="0123456789003",
                action_id="ack",
                value="12",
                event_id="frame-card-1",
                message_ref=ref,
            )
            await adapter.update(ref, done)
            params = fake.cards[ref]["cardData"]["cardParamMap"]
            assert params["title"] == "社保逾期（已确认）"
            assert params["actions_visible"] == "false" and params["btns"] == "[]"
            assert "王经理" in params["content"]

    run(scenario)
    [put] = [c for c in fake.calls if c.method == "PUT"]
    assert put.body["cardUpdateOptions"] == {"updateCardDataByKey": True}


def test_system_disconnect_frame_makes_the_client_reconnect(fake_dingtalk: FakeDingTalk) -> None:
    fake, sink = fake_dingtalk, Sink()
    adapter = make_adapter(fake)

    async def scenario() -> None:
        async with connected(fake, adapter, sink):
            fake.disconnect()
            await poll(lambda: fake.connections == 2)
            fake.send_frame(fake.frame(BOT_TOPIC, payload("bot_message_single"), "frame-after-1"))
            await poll(lambda: bool(sink.events))
            assert adapter.stream is not None and adapter.stream.connections == 2

    run(scenario)


def test_gateway_errors_are_retried_with_backoff(fake_dingtalk: FakeDingTalk) -> None:
    fake, sink = fake_dingtalk, Sink()
    fake.fail_next_opens = 2
    adapter = make_adapter(fake)

    async def scenario() -> None:
        async with connected(fake, adapter, sink):
            assert fake.open_attempts == 3

    run(scenario)


def test_watchdog_restarts_a_stalled_connection(fake_dingtalk: FakeDingTalk) -> None:
    fake, sink = fake_dingtalk, Sink()
    adapter = make_adapter(fake, stall_seconds=0.3)

    async def scenario() -> None:
        async with connected(fake, adapter, sink):
            fake.stall()
            await poll(lambda: fake.connections == 2)

    run(scenario)


def test_stop_ends_the_stream_thread_and_the_connection(fake_dingtalk: FakeDingTalk) -> None:
    fake, sink = fake_dingtalk, Sink()
    adapter = make_adapter(fake)

    async def scenario() -> None:
        async with connected(fake, adapter, sink):
            assert any(t.name == "dingtalk-stream" for t in threading.enumerate())
        await poll(lambda: fake.closed == 1)

    run(scenario)
    assert not any(t.name == "dingtalk-stream" for t in threading.enumerate())
