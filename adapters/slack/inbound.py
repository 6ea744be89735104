"""Slack payloads as neutral events for the runtime's sink, and the Bolt listeners of Socket Mode.

The same functions serve HTTP (Events API, slash commands, interactivity on one Request URL,
routed by `adapters.slack.request_url`) and Socket Mode (Bolt's listeners, below). Each event
goes to the sink, which stores it, and only then is it acked (the Bolt app runs with
`process_before_response`), so Slack gets its answer well inside 3 s
(https://docs.slack.dev/interactivity/handling-user-interaction) and nothing acked is lost.
An event the sink could not take is answered 503 with Retry-After: over HTTP the Events API
sends it again ("we'll retry … up to 3 times", https://docs.slack.dev/apis/events-api/#retries).
Slash commands and clicks are never sent again (the user sees a timeout error,
https://docs.slack.dev/interactivity/implementing-slash-commands), nor are Socket Mode events
that got an ack, so for those the sink keeps what it cannot write (the local spool).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_bolt.response import BoltResponse

from adapters.base import Admission, InboundSink, ReplyTarget
from adapters.slack.blocks import card_blocks, escape
from handlers.alert_actions import BUTTON_ACTIONS
from handlers.types import Action, Message, Reply

PLATFORM = "slack"
COMMAND = "/coverwatch"


IsBotIm = Callable[[str, str], Awaitable[bool]]
"""(user id, channel id) -> is that channel the bot's own IM with that user."""

# A user mention is `<@U123>` or `<@U123|name>`; W… ids are Enterprise Grid users.
# https://docs.slack.dev/messaging/formatting-message-text#mentioning-users
_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


def strip_bot_mention(text: str, bot_user_id: str | None) -> str:
    """Drop mentions of the bot (every mention when the bot's id is unknown)."""

    def drop_bot(match: re.Match[str]) -> str:
        return "" if bot_user_id in (None, match.group(1)) else match.group(0)

    return " ".join(_MENTION.sub(drop_bot, text).split())


def _refused(admission: Admission) -> BoltResponse:
    return BoltResponse(status=503, body="", headers={"retry-after": str(admission.retry_after)})


def command_answer(reply: Reply) -> dict[str, object]:
    """The body of a slash command's ack that answers it (the sink's `Admission.answer`,
    "busy"), shown to the asker alone: no second request, to response_url, for it. Slack
    shows a command's 200 JSON body to its sender ("responding immediately",
    https://docs.slack.dev/interactivity/implementing-slash-commands), as the ack's `payload`
    over Socket Mode (https://docs.slack.dev/apis/events-api/using-socket-mode). A command's
    only: a click's ack body shows nothing, and Slack ignores an Events API ack's."""
    body: dict[str, object] = {"response_type": "ephemeral", "text": escape(reply.text)}
    if blocks := card_blocks(reply.card):
        body["blocks"] = blocks
    return body


Incoming = tuple[Message | Action, ReplyTarget]


async def command_event(command: dict[str, Any], is_bot_im: IsBotIm) -> Incoming:
    """A slash command's form fields as an event; Slack never sends it again.

    Slash commands and clicks carry only a channel id, and a `D…` id is any DM, also one
    between two colleagues (issue 15 finding 4): only `is_bot_im` (the bot's own IM with the
    asker) makes them direct; everywhere else personal answers are ephemeral.
    """
    # Form fields: https://docs.slack.dev/interactivity/implementing-slash-commands#app_command_handling
    channel = command["channel_id"]
    direct = await is_bot_im(command["user_id"], channel)
    return (
        Message(
            platform=PLATFORM,
            user_id=command["user_id"],
            conversation_id=channel,
            is_direct=direct,
            text=" ".join(str(command.get("text", "")).split()),
            event_id=command["trigger_id"],
        ),
        ReplyTarget(
            platform=PLATFORM,
            conversation_id=channel,
            user_id=command["user_id"],
            is_direct=direct,
            extra={"response_url": command["response_url"]},
        ),
    )


def mention_event(body: dict[str, Any], event: dict[str, Any], bot_user_id: str | None) -> Incoming:
    # https://docs.slack.dev/reference/events/app_mention
    text = strip_bot_mention(str(event.get("text", "")), bot_user_id)
    return _conversation_event(body, event, text, direct=False)


def dm_event(body: dict[str, Any], event: dict[str, Any]) -> Incoming | None:
    """Only a person's plain DM to the bot: bot posts and edits/joins carry `bot_id`/`subtype`.
    message.im is delivered for the IMs the app is in, with `channel_type: "im"`:
    https://docs.slack.dev/reference/events/message.im"""
    if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
        return None
    text = " ".join(str(event.get("text", "")).split())
    return _conversation_event(body, event, text, direct=True)


async def button_event(
    body: dict[str, Any], action: dict[str, Any], is_bot_im: IsBotIm
) -> Incoming:
    # https://docs.slack.dev/reference/interaction-payloads/block_actions-payload
    container = body.get("container") or {}
    message = body.get("message") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id", "")
    message_ts = container.get("message_ts") or message.get("ts")
    user_id = body["user"]["id"]
    direct = await is_bot_im(user_id, channel)
    extra = {"response_url": body["response_url"]} if body.get("response_url") else {}
    return (
        Action(
            platform=PLATFORM,
            user_id=user_id,
            conversation_id=channel,
            action_id=action["action_id"],
            value=str(action.get("value", "")),
            event_id=body.get("trigger_id") or action["action_ts"],
            message_ref=f"{channel}:{message_ts}" if channel and message_ts else None,
        ),
        ReplyTarget(
            platform=PLATFORM,
            conversation_id=channel,
            user_id=user_id,
            is_direct=direct,
            thread=message.get("thread_ts"),
            extra=extra,
        ),
    )


def register(
    app: AsyncApp,
    deliver: InboundSink,
    is_bot_im: IsBotIm,
    *,
    events_retried: bool,
    command: str = COMMAND,
) -> None:
    """Attach the slash command, mention, DM and button listeners to `app` (Socket Mode; over
    HTTP `adapters.slack.request_url` routes the same payloads without Bolt)."""

    async def on_command(ack: AsyncAck, command: dict[str, Any]) -> BoltResponse | None:
        event, reply_to = await command_event(command, is_bot_im)
        admission = await deliver(event, reply_to, platform_retries=False, answer_in_ack=True)
        if not admission.taken:
            return _refused(admission)
        await ack(command_answer(admission.answer) if admission.answer else "")
        return None

    async def on_mention(
        body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext
    ) -> BoltResponse | None:
        incoming = mention_event(body, event, context.bot_user_id)
        admission = await deliver(*incoming, platform_retries=events_retried)
        return None if admission.taken else _refused(admission)

    async def on_message(body: dict[str, Any], event: dict[str, Any]) -> BoltResponse | None:
        incoming = dm_event(body, event)
        if incoming is None:
            return None
        admission = await deliver(*incoming, platform_retries=events_retried)
        return None if admission.taken else _refused(admission)

    async def on_button(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]
    ) -> BoltResponse | None:
        admission = await deliver(
            *await button_event(body, action, is_bot_im), platform_retries=False
        )
        if not admission.taken:
            return _refused(admission)
        await ack()
        return None

    app.command(command)(on_command)
    app.event("app_mention")(on_mention)
    app.event("message")(on_message)
    for action_id in BUTTON_ACTIONS:
        app.action({"type": "block_actions", "action_id": action_id})(on_button)


def _conversation_event(
    body: dict[str, Any], event: dict[str, Any], text: str, *, direct: bool
) -> tuple[Message, ReplyTarget]:
    """A mention or DM; `event_id` is the Events API envelope's id that retries repeat."""
    channel = event["channel"]
    thread = event.get("thread_ts")
    return (
        Message(
            platform=PLATFORM,
            user_id=event["user"],
            conversation_id=channel,
            is_direct=direct,
            text=text,
            event_id=body["event_id"],
        ),
        ReplyTarget(
            platform=PLATFORM,
            conversation_id=channel,
            user_id=event["user"],
            is_direct=direct,
            thread=thread,
            extra={"thread_ts": thread} if thread else {},
        ),
    )
