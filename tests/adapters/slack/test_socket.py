"""Socket Mode: the same listeners behind slack-sdk's aiohttp client and the loopback WebSocket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from adapters.base import Admission
from adapters.slack import SlackAdapter
from handlers.types import Action, Message, Reply
from tests.fakes.slack import FakeSlack
from tests.support.inbound import RecordingSink, eventually
from tests.support.slack import (
    APP_TOKEN,
    BOT_TOKEN,
    command_body,
    fixture,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
async def connected(fake_slack: FakeSlack) -> AsyncIterator[tuple[SlackAdapter, RecordingSink]]:
    adapter = SlackAdapter(
        bot_token=BOT_TOKEN, app_token=APP_TOKEN, mode="socket", api_base_url=fake_slack.api_url
    )
    sink = RecordingSink()
    await adapter.start(sink)
    try:
        assert await asyncio.to_thread(fake_slack.wait_socket_open)
        yield adapter, sink
    finally:
        await adapter.stop()


async def test_connects_with_the_app_token(
    fake_slack: FakeSlack, connected: tuple[SlackAdapter, RecordingSink]
) -> None:
    [opened] = fake_slack.calls_to("apps.connections.open")
    assert opened.token == APP_TOKEN


async def test_slash_command_envelope_is_delivered_and_acked(
    fake_slack: FakeSlack, connected: tuple[SlackAdapter, RecordingSink]
) -> None:
    adapter, sink = connected
    payload = command_body(fake_slack, text="coverage", channel_id="D2147483697")
    envelope_id = fake_slack.push_envelope("slash_commands", payload, accepts_response_payload=True)
    await sink.wait_for(1)
    await eventually(lambda: fake_slack.acked(envelope_id))
    [(message, target)] = sink.events
    assert message == Message(
        platform="slack",
        user_id="U2147483697",
        conversation_id="D2147483697",  # the bot's own IM with the asker (conversations.open)
        is_direct=True,
        text="coverage",
        event_id=payload["trigger_id"],
    )
    await adapter.reply(target, Reply(text="Your cover is active"))
    assert fake_slack.responses[0][1]["text"] == "Your cover is active"


async def test_a_slash_commands_ack_carries_the_answer_the_sink_gives(
    fake_slack: FakeSlack, connected: tuple[SlackAdapter, RecordingSink]
) -> None:
    """Over Socket Mode the ack's payload is what Slack shows the asker (the busy answer)."""
    _, sink = connected
    sink.admission = Admission(taken=True, answer=Reply(text="Busy", ephemeral=True))
    payload = command_body(fake_slack, text="coverage", channel_id="C2147483705")
    envelope_id = fake_slack.push_envelope("slash_commands", payload, accepts_response_payload=True)
    await eventually(lambda: fake_slack.acked(envelope_id))
    assert sink.answers_in_ack == [True]
    assert [ack for ack in fake_slack.acks if ack["envelope_id"] == envelope_id] == [
        {"envelope_id": envelope_id, "payload": {"response_type": "ephemeral", "text": "Busy"}}
    ]


async def test_dm_event_envelope_is_delivered_and_acked(
    fake_slack: FakeSlack, connected: tuple[SlackAdapter, RecordingSink]
) -> None:
    _, sink = connected
    envelope_id = fake_slack.push_envelope("events_api", fixture("message_im"))
    await sink.wait_for(1)
    await eventually(lambda: fake_slack.acked(envelope_id))
    message, _ = sink.events[0]
    assert isinstance(message, Message)
    assert (message.text, message.event_id, message.is_direct) == (
        "Hello hello can you hear me?",
        "Ev0PV52K21",
        True,
    )
    assert [ack for ack in fake_slack.acks if ack["envelope_id"] == envelope_id] == [
        {"envelope_id": envelope_id}
    ]


async def test_button_click_envelope_is_delivered(
    fake_slack: FakeSlack, connected: tuple[SlackAdapter, RecordingSink]
) -> None:
    _, sink = connected
    payload = fixture("block_actions") | {"response_url": fake_slack.response_url("click")}
    envelope_id = fake_slack.push_envelope("interactive", payload)
    await sink.wait_for(1)
    await eventually(lambda: fake_slack.acked(envelope_id))
    action, _ = sink.events[0]
    assert isinstance(action, Action)
    assert action.message_ref == "C0HR00001:1548261231.000200"


async def test_stop_closes_the_socket(fake_slack: FakeSlack) -> None:
    adapter = SlackAdapter(
        bot_token=BOT_TOKEN, app_token=APP_TOKEN, mode="socket", api_base_url=fake_slack.api_url
    )
    await adapter.start(RecordingSink())
    assert await asyncio.to_thread(fake_slack.wait_socket_open)
    await adapter.stop()
    await eventually(lambda: not fake_slack.wait_socket_open(timeout=0))
