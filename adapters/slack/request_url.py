"""The Request URL without Bolt: a verified body parsed and routed to the sink, then acked.

Over HTTP, Slack posts three kinds of payload to one URL: Events API callbacks (JSON), slash
commands (a form) and interactivity (a form whose `payload` field is JSON)
(https://docs.slack.dev/apis/events-api/, https://docs.slack.dev/interactivity/implementing-slash-commands,
https://docs.slack.dev/interactivity/handling-user-interaction). Bolt's dispatch (middleware
chain, listener matching, an ack runner polled every 10 ms) cost more CPU than storing the event
(docs/PERFORMANCE.md, chat_http), so the adapter routes what it listens to itself, answering as
Bolt's `AsyncApp` did: `url_verification` echoes its challenge, `ssl_check` is 200, an event the
sink took is acked 200 with an empty body (a slash command met by a full backlog: with the
"busy" answer in it, `command_answer`), one it could not take is 503 with `Retry-After`,
what nothing listens to is 404 ("unhandled request"), and the token is checked once with
`auth.test` before the first event (its bot user id strips mentions and drops the bot's own
events, as Bolt's `IgnoringSelfEvents`). The signature is checked before this, on the raw body
(`adapters/slack/verification.py`). Socket Mode keeps Bolt (`adapters/slack/inbound.register`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

from adapters.base import HttpResponse, InboundSink, ReplyTarget, refusal
from adapters.slack.inbound import (
    COMMAND,
    IsBotIm,
    button_event,
    command_answer,
    command_event,
    dm_event,
    mention_event,
)
from handlers.alert_actions import BUTTON_ACTIONS
from handlers.types import Action, Message

log = logging.getLogger(__name__)

BotUserId = Callable[[], Awaitable[str | None]]
"""The bot's own user id from `auth.test`, asked once; raises when the token is refused."""
_JSON = {"content-type": "application/json"}
_ACK = HttpResponse(status=200)
_UNHANDLED = HttpResponse(status=404, body=b'{"error": "unhandled request"}', headers=_JSON)
_EVENTS = ("app_mention", "message")
_NOT_INSTALLED = (
    ":warning: coverwatch's installation in this workspace is no longer valid; "
    "please ask an admin to reinstall it."
)
"""Shown to the person who asked (Slack shows a command's 200 body to its sender)."""


class UnreadableBody(ValueError):
    """A signed body that is not one of Slack's payloads (Slack never sends one)."""


def parse(body: str, content_type: str | None) -> dict[str, Any]:
    """JSON (Events API), or a form: interactivity's `payload` JSON, else a slash command's
    fields — the same reading as Bolt's `parse_body`. Raises `UnreadableBody`."""
    try:
        if not body:
            return {}
        if content_type == "application/json" or body.startswith("{"):
            parsed: object = json.loads(body)
        else:
            fields = dict(parse_qsl(body, keep_blank_values=True))
            parsed = json.loads(fields["payload"]) if "payload" in fields else fields
    except ValueError:
        raise UnreadableBody("not JSON nor a form") from None
    if not isinstance(parsed, dict):
        raise UnreadableBody("not an object")
    return parsed


async def route(
    payload: dict[str, Any],
    deliver: InboundSink,
    is_bot_im: IsBotIm,
    bot_user_id: BotUserId,
    *,
    events_retried: bool,
) -> HttpResponse:
    """What Slack gets for one verified payload (raises `UnreadableBody` for a payload that
    lacks a field Slack always sends)."""
    if payload.get("type") == "url_verification":
        # https://docs.slack.dev/reference/events/url_verification
        challenge = json.dumps({"challenge": payload.get("challenge")})
        return HttpResponse(status=200, body=challenge.encode(), headers=_JSON)
    if payload.get("ssl_check") == "1":
        return _ACK
    try:
        bot = await bot_user_id()
    except Exception as exc:  # a refused token: Bolt's single-team authorization answers so
        log.error("slack: auth.test failed (%s); event not taken", type(exc).__name__)
        return HttpResponse(status=200, body=_NOT_INSTALLED.encode())
    try:
        found = await _incoming(payload, is_bot_im, bot, events_retried)
    except (KeyError, TypeError, AttributeError, IndexError):
        raise UnreadableBody("a field Slack sends is missing") from None
    if isinstance(found, HttpResponse):
        return found
    admission = await deliver(
        found.event,
        found.reply_to,
        platform_retries=found.platform_retries,
        answer_in_ack=found.answer_in_ack,
    )
    if not admission.taken:
        return refusal(admission)
    if admission.answer is None:
        return _ACK
    answer = json.dumps(command_answer(admission.answer), ensure_ascii=False)
    return HttpResponse(status=200, body=answer.encode(), headers=_JSON)


class _Found(NamedTuple):
    """An event for the sink, and what the sink is told with it."""

    event: Message | Action
    reply_to: ReplyTarget
    platform_retries: bool
    """Slack sends it again when refused."""
    answer_in_ack: bool = False
    """Slack shows the ack's body to the sender (a slash command)."""


async def _incoming(
    payload: dict[str, Any], is_bot_im: IsBotIm, bot: str | None, events_retried: bool
) -> _Found | HttpResponse:
    """The event for the sink; or the answer without one."""
    if payload.get("command") is not None:
        if payload["command"] != COMMAND:
            return _UNHANDLED
        return _Found(*await command_event(payload, is_bot_im), False, answer_in_ack=True)
    kind = payload.get("type")
    if kind == "block_actions":
        action = payload["actions"][0]  # Bolt matches a click by its first action
        if action.get("action_id") not in BUTTON_ACTIONS:
            return _UNHANDLED
        return _Found(*await button_event(payload, action, is_bot_im), False)
    if kind != "event_callback" or payload["event"].get("type") not in _EVENTS:
        return _UNHANDLED
    event = payload["event"]
    if bot is not None and event.get("user") == bot:  # the bot's own (Bolt's IgnoringSelfEvents)
        return _ACK
    if event["type"] == "app_mention":
        return _Found(*mention_event(payload, event, bot), events_retried)
    incoming = dm_event(payload, event)
    return _ACK if incoming is None else _Found(*incoming, events_retried)
