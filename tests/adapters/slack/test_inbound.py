"""Signed Slack requests over real loopback HTTP into `handle_http`, mounted as `run` will."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from adapters.base import Admission, HttpRequest
from adapters.slack import SlackAdapter
from adapters.slack.inbound import strip_bot_mention
from bot.handling import new_event
from handlers.types import Action, Message, Reply
from storage.db import make_engine, upgrade
from storage.inbound import admit
from tests.fakes.slack import BOT_USER_ID, FakeSlack
from tests.support.inbound import RecordingSink
from tests.support.slack import (
    APP_TOKEN,
    BOT_TOKEN,
    SIGNING_SECRET,
    command_body,
    fixture,
    form,
    http_adapter,
    interaction_form,
    serve,
    signed,
)

pytestmark = pytest.mark.anyio

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


async def post(url: str, body: str, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(url, content=body.encode(), headers=headers)


async def test_slash_command_reaches_sink_and_reply_uses_response_url(
    fake_slack: FakeSlack,
) -> None:
    adapter, sink = http_adapter(fake_slack), RecordingSink()
    await adapter.start(sink)
    body = form(command_body(fake_slack, text="  coverage  ", channel_id="C2147483705"))
    async with serve(adapter) as url:
        answer = await post(url, body, signed(body, FORM))
    assert answer.status_code == 200
    assert answer.content == b""  # an empty ack; the answer follows through response_url
    await sink.wait_for(1)
    [(message, target)] = sink.events
    assert message == Message(
        platform="slack",
        user_id="U2147483697",
        conversation_id="C2147483705",
        is_direct=False,
        text="coverage",
        event_id="13345224609.738474920.8088930838d88f008e0",
    )
    assert target.extra["response_url"] == fake_slack.response_url("command")

    await adapter.reply(target, Reply(text="Your cover is active", ephemeral=True))
    [(name, sent)] = fake_slack.responses
    assert name == "command"
    assert sent["text"] == "Your cover is active"
    assert sent["response_type"] == "ephemeral"
    assert sent["replace_original"] is False
    # Bolt authorised the request with the bot token against the fake, never slack.com.
    assert [call.token for call in fake_slack.calls_to("auth.test")] == [BOT_TOKEN]
    await adapter.stop()


async def test_slash_command_in_the_bots_own_im_is_direct(fake_slack: FakeSlack) -> None:
    adapter, sink = http_adapter(fake_slack), RecordingSink()
    await adapter.start(sink)
    # The fake's conversations.open names the bot's IM with U2147483697 "D2147483697".
    body = form(command_body(fake_slack, text="help", channel_id="D2147483697"))
    async with serve(adapter) as url:
        assert (await post(url, body, signed(body, FORM))).status_code == 200
    await sink.wait_for(1)
    message, target = sink.events[0]
    assert isinstance(message, Message)
    assert message.is_direct and target.is_direct
    [opened] = fake_slack.calls_to("conversations.open")
    assert (opened.params["users"], opened.token) == ("U2147483697", BOT_TOKEN)

    await adapter.reply(target, Reply(text="help text", ephemeral=True))
    assert fake_slack.responses[0][1]["response_type"] == "in_channel"
    await adapter.stop()


async def test_slash_command_in_a_dm_slack_will_not_name_is_not_direct_and_asked_once(
    fake_slack: FakeSlack,
) -> None:
    """conversations.open rate-limited (Tier 3): the answer is no, and Slack is not asked again
    before its Retry-After; the user's next command asks again."""
    adapter, sink = http_adapter(fake_slack), RecordingSink()
    await adapter.start(sink)
    fake_slack.fail_next("conversations.open", status=429, error="ratelimited", retry_after=30)
    body = form(command_body(fake_slack, text="contributions", channel_id="D2147483697"))
    async with serve(adapter) as url:
        assert (await post(url, body, signed(body, FORM))).status_code == 200
        await sink.wait_for(1)
        assert len(fake_slack.calls_to("conversations.open")) == 1
        again = form(command_body(fake_slack, text="help", channel_id="D2147483697"))
        assert (await post(url, again, signed(again, FORM))).status_code == 200
        await sink.wait_for(2)
    assert [message.is_direct for message, _ in sink.events] == [False, True]
    await adapter.stop()


async def test_slash_command_in_a_dm_between_colleagues_is_not_direct(
    fake_slack: FakeSlack,
) -> None:
    """Issue 15 finding 4: `D024BE91L` is a DM, but not the bot's: `/coverwatch contributions`
    there posted the base in_channel for the colleague to read. Now personal is ephemeral."""
    adapter, sink = http_adapter(fake_slack), RecordingSink()
    await adapter.start(sink)
    body = form(command_body(fake_slack, text="contributions", channel_id="D024BE91L"))
    async with serve(adapter) as url:
        assert (await post(url, body, signed(body, FORM))).status_code == 200
    await sink.wait_for(1)
    message, target = sink.events[0]
    assert isinstance(message, Message)
    assert not message.is_direct and not target.is_direct

    await adapter.reply(target, Reply(text="base 36348.00", ephemeral=True))
    assert fake_slack.responses[0][1]["response_type"] == "ephemeral"
    await adapter.stop()


async def test_app_mention_strips_the_bot_and_replies_in_channel(fake_slack: FakeSlack) -> None:
    adapter, sink = http_adapter(fake_slack), RecordingSink()
    await adapter.start(sink)
    body = json.dumps(fixture("app_mention"))
    async with serve(adapter) as url:
        assert (await post(url, body, signed(body, JSON))).status_code == 200
        await sink.wait_for(1)
    [(message, target)] = sink.events
    assert message == Message(
        platform="slack",
        user_id="U061F7AUR",
        conversation_id="C123ABC456",
        is_direct=False,
        text="arrears",
        event_id="Ev123ABC456",
    )
    await adapter.reply(target, Reply(text="No account is overdue"))
    [call] = fake_slack.calls_to("chat.postMessage")
    assert call.token == BOT_TOKEN
    assert call.params["channel"] == "C123ABC456"
    assert call.params["text"] == "No account is overdue"
    await adapter.stop()


async def test_mention_in_a_thread_is_answered_in_that_thread(fake_slack: FakeSlack) -> None:
    adapter, sink = http_adapter(fake_slack), RecordingSink()
    await adapter.start(sink)
    payload = fixture("app_mention")
    payload["event"]["thread_ts"] = "1515449000.000001"
    body = json.dumps(payload)
    async with serve(adapter) as url:
        await post(url, body, signed(body, JSON))
        await sink.wait_for(1)
    _, target = sink.events[0]
    await adapter.reply(target, Reply(text="In the thread"))
    assert fake_slack.calls_to("chat.postMessage")[0].params["thread_ts"] == "1515449000.000001"
    await adapter.stop()


async def test_direct_message_reaches_sink_and_reply_posts_to_the_dm(
    fake_slack: FakeSlack,
) -> None:
    adapter, sink = http_adapter(fake_slack), RecordingSink()
    await adapter.start(sink)
    body = json.dumps(fixture("message_im"))
    async with serve(adapter) as url:
        assert (await post(url, body, signed(body, JSON))).status_code == 200
        await sink.wait_for(1)
    [(message, target)] = sink.events
    assert message == Message(
        platform="slack",
        user_id="U2147483697",
        conversation_id="D024BE91L",
        is_direct=True,
        text="Hello hello can you hear me?",
        event_id="Ev0PV52K21",
    )
    # Personal, but a DM is private already: a normal message, not an ephemeral one.
    await adapter.reply(target, Reply(text="Paid through 2024-05", ephemeral=True))
    assert fake_slack.calls_to("chat.postEphemeral") == []
    assert fake_slack.calls_to("chat.postMessage")[0].params["channel"] == "D024BE91L"
    await adapter.stop()


@pytest.mark.parametrize(
    "change",
    [
        {"bot_id": "B0001", "user": "UBOT0001"},  # our own (or another bot's) post
        {"subtype": "message_changed"},  # an edit, not a new question
        {"channel_type": "channel", "channel": "C123ABC456"},  # channel chatter without a mention
    ],
)
async def test_messages_that_are_not_a_persons_dm_are_ignored(
    fake_slack: FakeSlack, change: dict[str, str]
) -> None:
    adapter, sink = http_adapter(fake_slack), RecordingSink()
    await adapter.start(sink)
    payload = fixture("message_im")
    payload["event"] |= change
    body = json.dumps(payload)
    real = json.dumps(fixture("message_im") | {"event_id": "EvLATER"})
    async with serve(adapter) as url:
        assert (await post(url, body, signed(body, JSON))).status_code == 200
        await post(url, real, signed(real, JSON))
        await sink.wait_for(1)
    assert [event.event_id for event, _ in sink.events] == ["EvLATER"]
    await adapter.stop()


async def test_button_click_becomes_an_action_with_the_message_ref(fake_slack: FakeSlack) -> None:
    adapter, sink = http_adapter(fake_slack), RecordingSink()
    await adapter.start(sink)
    payload = fixture("block_actions") | {"response_url": fake_slack.response_url("click")}
    body = interaction_form(payload)
    async with serve(adapter) as url:
        assert (await post(url, body, signed(body, FORM))).status_code == 200
    await sink.wait_for(1)
    [(action, target)] = sink.events
    assert action == Action(
        platform="slack",
        user_id="U0CA5",
        conversation_id="C0HR00001",
        action_id="ack",
        value="12",
        event_id="12321423423.333649436676.d8c1bb837935619ccad0f624c448ffb3",
        message_ref="C0HR00001:1548261231.000200",
    )
    # A refusal goes only to the clicker.
    await adapter.reply(target, Reply(text="Only HR may acknowledge", ephemeral=True))
    assert fake_slack.responses == [
        (
            "click",
            {
                "text": "Only HR may acknowledge",
                "response_type": "ephemeral",
                "replace_original": False,
            },
        )
    ]
    await adapter.stop()


async def test_snooze_button_carries_its_value(fake_slack: FakeSlack) -> None:
    adapter, sink = http_adapter(fake_slack), RecordingSink()
    await adapter.start(sink)
    payload = fixture("block_actions") | {"response_url": fake_slack.response_url("click")}
    payload["actions"][0] |= {"action_id": "snooze", "value": "12:4h"}
    body = interaction_form(payload)
    async with serve(adapter) as url:
        assert (await post(url, body, signed(body, FORM))).status_code == 200
    await sink.wait_for(1)
    action, _ = sink.events[0]
    assert isinstance(action, Action)
    assert (action.action_id, action.value) == ("snooze", "12:4h")
    await adapter.stop()


async def test_two_clicks_in_one_second_are_both_handled(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    """Issue 15 item 8: ack and snooze clicked within the same second are two events to the
    runtime's dedupe (each click has its own trigger_id), and Slack's redelivery of the first
    is still one."""
    engine = make_engine(f"sqlite:///{tmp_path}/events.db")
    upgrade(engine)
    adapter, sink = http_adapter(fake_slack), RecordingSink()
    await adapter.start(sink)
    clicks = []
    for trigger, action_id, value, at in [
        ("1001.1.aaa", "ack", "12", "1548426417.840180"),
        ("1001.2.bbb", "snooze", "12:4h", "1548426417.912044"),
    ]:
        payload = fixture("block_actions") | {
            "response_url": fake_slack.response_url(trigger),
            "trigger_id": trigger,
        }
        payload["actions"][0] |= {"action_id": action_id, "value": value, "action_ts": at}
        clicks.append(interaction_form(payload))
    async with serve(adapter) as url:
        for body in (*clicks, clicks[0]):
            assert (await post(url, body, signed(body, FORM))).status_code == 200
    await sink.wait_for(3)
    now = datetime.now(UTC)
    firsts = [admit(engine, new_event(event, target), now=now) for event, target in sink.events]
    assert firsts == [True, True, False]
    assert [event.action_id for event, _ in sink.events if isinstance(event, Action)] == [
        "ack",
        "snooze",
        "ack",
    ]
    await adapter.stop()
    engine.dispose()


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda body: signed(body, JSON, secret="not-the-secret"), id="bad-signature"),
        pytest.param(lambda body: signed(body, JSON, timestamp=int(time.time()) - 301), id="stale"),
        pytest.param(lambda body: {"content-type": JSON}, id="unsigned"),
    ],
)
async def test_unverified_requests_get_401_and_nothing_happens(
    fake_slack: FakeSlack, headers: object
) -> None:
    adapter, sink = http_adapter(fake_slack), RecordingSink()
    await adapter.start(sink)
    body = json.dumps(fixture("message_im"))
    assert callable(headers)
    async with serve(adapter) as url:
        answer = await post(url, body, headers(body))
    assert answer.status_code == 401
    assert sink.events == []
    assert fake_slack.calls == []  # not even auth.test: verification runs first
    await adapter.stop()


async def test_freshness_uses_the_injected_clock(fake_slack: FakeSlack) -> None:
    """A request signed "now" is stale for an adapter whose clock reads 6 minutes later."""
    adapter = http_adapter(fake_slack, clock=lambda: time.time() + 360)
    sink = RecordingSink()
    await adapter.start(sink)
    body = json.dumps(fixture("message_im"))
    async with serve(adapter) as url:
        assert (await post(url, body, signed(body, JSON))).status_code == 401
    assert sink.events == []
    await adapter.stop()


async def test_handle_http_before_start_and_non_post(fake_slack: FakeSlack) -> None:
    adapter = http_adapter(fake_slack)
    body = json.dumps(fixture("message_im")).encode()
    request = HttpRequest(
        method="POST",
        path="/slack/events",
        query={},
        headers=signed(body.decode(), JSON),
        body=body,
    )
    assert (await adapter.handle_http(request)).status == 503  # Slack retries later
    await adapter.start(RecordingSink())
    get = HttpRequest(method="GET", path="/slack/events", query={}, headers={}, body=b"")
    assert (await adapter.handle_http(get)).status == 405
    await adapter.stop()


async def test_socket_mode_declares_no_request_url(fake_slack: FakeSlack) -> None:
    """Nothing could verify HTTP requests in Socket Mode (no signing secret): none are taken."""
    adapter = SlackAdapter(
        bot_token=BOT_TOKEN, app_token=APP_TOKEN, mode="socket", api_base_url=fake_slack.api_url
    )
    assert adapter.routes() == ()
    body = json.dumps(fixture("message_im"))
    request = HttpRequest(
        method="POST",
        path="/slack/events",
        query={},
        headers=signed(body, JSON),
        body=body.encode(),
    )
    assert (await adapter.handle_http(request)).status == 404


def test_only_the_bots_own_mention_is_stripped() -> None:
    text = "<@UBOT0001>  ack 12 for <@U999|li>"
    assert strip_bot_mention(text, "UBOT0001") == "ack 12 for <@U999|li>"
    assert strip_bot_mention(text, None) == "ack 12 for"


def test_configuration_is_checked_up_front() -> None:
    with pytest.raises(ValueError, match="signing secret"):
        SlackAdapter(bot_token=BOT_TOKEN, api_base_url="http://127.0.0.1:9/api/")
    with pytest.raises(ValueError, match="app-level token"):
        SlackAdapter(
            bot_token=BOT_TOKEN,
            signing_secret=SIGNING_SECRET,
            mode="socket",
            api_base_url="http://127.0.0.1:9/api/",
        )


async def test_undecodable_body_is_refused_not_crashed(fake_slack: FakeSlack) -> None:
    adapter, sink = http_adapter(fake_slack), RecordingSink()
    await adapter.start(sink)
    request = HttpRequest(
        method="POST",
        path="/slack/events",
        query={},
        headers=signed("{}", JSON),
        body=b"\xff\xfe{}",
    )
    assert (await adapter.handle_http(request)).status == 401
    assert sink.events == []
    await adapter.stop()


async def test_an_event_the_sink_refuses_is_answered_503_so_slack_retries(
    fake_slack: FakeSlack,
) -> None:
    """Issue 18: nothing is acked that was not stored. Events API callbacks come again when
    refused; a slash command does not, but it is refused alike when even the spool is full."""
    adapter, sink = http_adapter(fake_slack), RecordingSink()
    sink.admission = Admission(taken=False, retry_after=5)
    await adapter.start(sink)
    mention = json.dumps(fixture("app_mention"))
    command = form(command_body(fake_slack, text="coverage", channel_id="C2147483705"))
    async with serve(adapter) as url:
        refused_event = await post(url, mention, signed(mention, JSON))
        refused_command = await post(url, command, signed(command, FORM))
    for answer in (refused_event, refused_command):
        assert (answer.status_code, answer.headers["retry-after"]) == (503, "5")
    assert sink.retries == [True, False]  # Events over HTTP are retried, commands never
    await adapter.stop()


async def test_only_a_slash_commands_ack_carries_the_answer_the_sink_gives(
    fake_slack: FakeSlack,
) -> None:
    """Slack shows a command's 200 body to its sender, not a click's nor an event's: the
    command alone is delivered with `answer_in_ack`, and the sink's answer (busy, past
    `[chat] max_backlog`) is its ack's JSON body, escaped as every text to Slack is."""
    adapter, sink = http_adapter(fake_slack), RecordingSink()
    await adapter.start(sink)
    command = form(command_body(fake_slack, text="coverage", channel_id="C2147483705"))
    click = interaction_form(fixture("block_actions"))
    mention = json.dumps(fixture("app_mention"))
    async with serve(adapter) as url:
        for body, kind in ((click, FORM), (mention, JSON)):
            assert (await post(url, body, signed(body, kind))).content == b""
        sink.admission = Admission(taken=True, answer=Reply(text="Busy <now>", ephemeral=True))
        answered = await post(url, command, signed(command, FORM))
    assert sink.answers_in_ack == [False, False, True]
    assert (answered.status_code, answered.headers["content-type"]) == (200, JSON)
    assert answered.json() == {"response_type": "ephemeral", "text": "Busy &lt;now&gt;"}
    await adapter.stop()


async def test_the_request_url_answers_what_bolt_answered_without_an_event(
    fake_slack: FakeSlack,
) -> None:
    """The Request URL is routed without Bolt (issue 18 item 5); these answers are Bolt's."""
    adapter, sink = http_adapter(fake_slack), RecordingSink()
    await adapter.start(sink)
    challenge = json.dumps({"type": "url_verification", "challenge": "3eZbrw1aBm"})
    reaction = fixture("app_mention")
    reaction["event"]["type"] = "reaction_added"
    own_mention = fixture("app_mention")
    own_mention["event"]["user"] = BOT_USER_ID
    command = command_body(fake_slack, text="help", channel_id="C2147483705")
    other_command = form(command | {"command": "/other"})
    unknown_click = fixture("block_actions")
    unknown_click["actions"][0]["action_id"] = "not_ours"
    async with serve(adapter) as url:
        verified = await post(url, challenge, signed(challenge, JSON))
        ssl_check = await post(url, "ssl_check=1&token=x", signed("ssl_check=1&token=x", FORM))
        unhandled = [
            await post(url, body, signed(body, kind))
            for body, kind in (
                (json.dumps(reaction), JSON),
                (other_command, FORM),
                (interaction_form(unknown_click), FORM),
            )
        ]
        own = json.dumps(own_mention)
        ignored = await post(url, own, signed(own, JSON))
    assert (verified.status_code, verified.json()) == (200, {"challenge": "3eZbrw1aBm"})
    assert (ssl_check.status_code, ssl_check.content) == (200, b"")
    assert [answer.status_code for answer in unhandled] == [404, 404, 404]
    assert (ignored.status_code, ignored.content) == (200, b"")  # the bot's own event: dropped
    assert sink.events == []
    await adapter.stop()


@pytest.mark.parametrize(
    "body", ["0", "[1]", "{not json", "payload=%7Bx", '{"type": "event_callback"}']
)
async def test_a_signed_body_that_is_no_slack_payload_is_400(
    fake_slack: FakeSlack, body: str
) -> None:
    adapter, sink = http_adapter(fake_slack), RecordingSink()
    await adapter.start(sink)
    async with serve(adapter) as url:
        assert (await post(url, body, signed(body, JSON))).status_code == 400
    assert sink.events == []
    await adapter.stop()


async def test_a_refused_token_takes_no_event_and_is_checked_again(fake_slack: FakeSlack) -> None:
    """auth.test runs before the first event, as Bolt's single-team authorization did."""
    adapter = SlackAdapter(
        bot_token="xoxb-revoked", signing_secret=SIGNING_SECRET, api_base_url=fake_slack.api_url
    )
    sink = RecordingSink()
    await adapter.start(sink)
    body = form(command_body(fake_slack, text="coverage", channel_id="C2147483705"))
    async with serve(adapter) as url:
        first = await post(url, body, signed(body, FORM))
        second = await post(url, body, signed(body, FORM))
    assert [first.status_code, second.status_code] == [200, 200]
    assert b"reinstall" in first.content
    assert sink.events == []
    assert len(fake_slack.calls_to("auth.test")) == 2
    await adapter.stop()
